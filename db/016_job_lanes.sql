-- 016: each lane of jobs (service/jobs/jobs.h) is claimed by its own
-- workers, walking an index of its own jobs only: subscription runs
-- (webhook posts, which wait on their receivers) apart from every other
-- kind. A backlog in one lane is then never walked by the other's claims.
-- In the webhook lane first tries are claimed before retries, so runs
-- whose receivers keep failing do not hold up new ones: each has its
-- index, and a claim reads the first before the second. The new indexes
-- are built first; 010's is dropped last.
CREATE INDEX jobs_due_quick_idx ON jobs (run_at, id)
    WHERE state = 'queued' AND kind <> 'subscription.run';
CREATE INDEX jobs_due_webhook_first_idx ON jobs (run_at, id)
    WHERE state = 'queued' AND kind = 'subscription.run' AND attempts = 0;
CREATE INDEX jobs_due_webhook_retry_idx ON jobs (run_at, id)
    WHERE state = 'queued' AND kind = 'subscription.run' AND attempts > 0;
DROP INDEX jobs_due_idx;
