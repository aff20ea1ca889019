-- 014: one user per name and domain, the domain compared ignoring the case
-- of ASCII letters, as logins compare it. UNIQUE (name, domain) let
-- 'bob##Acme' and 'bob##ACME' both exist, and a login as 'bob##acme' then
-- matched either. translate() folds exactly A-Z whatever the database's
-- locale (lower() would follow it); the login statement uses the same
-- expression, so this index answers it. Creating it fails if such twins
-- exist: remove or rename one of them first.
CREATE UNIQUE INDEX users_name_domain_folded_idx
    ON users (name, translate(domain, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
