-- 010: workers claim queued jobs by walking this index in order (due
-- time, then id) and stop at the batch's size. The index of 003 held the
-- due time alone, so a claim that also wanted id order read every entry of
-- it as a bitmap: under a steady stream of jobs that is every job claimed
-- since the last VACUUM, each a dead row checked again by every claim. An
-- ordered walk marks the dead entries it meets, and the next claims skip
-- them. The new index is built first (blocking only the queue's writes
-- while it is built); the old one is dropped last, so the table is
-- locked against its readers only for the drop.
CREATE INDEX jobs_due_idx ON jobs (run_at, id) WHERE state = 'queued';
DROP INDEX jobs_queued_idx;
