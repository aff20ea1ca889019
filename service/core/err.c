#include "err.h"

const char *ent_strerror(int err)
{
    switch ((ent_err_t)err) {
    case ENT_OK: return "success";
    case ENT_ENOMEM: return "out of memory";
    case ENT_EINVAL: return "invalid argument";
    case ENT_EDB: return "database error";
    case ENT_EDBDOWN: return "database unavailable";
    case ENT_ERETRY: return "transaction must be retried";
    case ENT_ENOTFOUND: return "not found";
    case ENT_EEXIST: return "already exists";
    case ENT_EAUTH: return "authentication failed";
    case ENT_ETIMEDOUT: return "timed out";
    case ENT_EIO: return "input/output error";
    case ENT_EPERM: return "not permitted";
    case ENT_ETOOBIG: return "the answer would be too large";
    case ENT_ELOCKED: return "a lock held by another transaction was waited for too long";
    case ENT_ERR_LAST_: break;
    }
    return "unknown error";
}
