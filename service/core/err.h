/*
 * err.h - the one error convention of entitlementd.
 *
 * Every fallible function returns 0 (ENT_OK) or one of the negative codes
 * below; ent_strerror() names them. Business outcomes of SOAP operations are
 * not errors of this kind: they are reason codes (lifecycle/reason.h) that go
 * into statusInfo.
 */
#ifndef ENT_ERR_H
#define ENT_ERR_H

#define ENT_MUSTCHECK __attribute__((warn_unused_result))

typedef enum ent_err {
    ENT_OK = 0,
    ENT_ENOMEM = -1,     /* allocation failed */
    ENT_EINVAL = -2,     /* invalid argument or input */
    ENT_EDB = -3,        /* the database refused a statement */
    ENT_EDBDOWN = -4,    /* no database connection could be had */
    ENT_ERETRY = -5,     /* serialization failure or deadlock: run the unit again */
    ENT_ENOTFOUND = -6,  /* the object asked for does not exist */
    ENT_EEXIST = -7,     /* the object to create exists already */
    ENT_EAUTH = -8,      /* credentials missing or wrong */
    ENT_ETIMEDOUT = -9,  /* waited longer than allowed */
    ENT_EIO = -10,       /* system call failed; errno tells more */
    ENT_EPERM = -11,     /* the caller may not do this to the object */
    ENT_ETOOBIG = -12,   /* the answer would be larger than allowed */
    ENT_ELOCKED = -13,   /* a lock held by another transaction was waited for too long */
    ENT_ERR_LAST_ = -14
} ent_err_t;

/* Returns a static, human-readable description of an ent_err_t. */
const char *ent_strerror(int err);

#endif
