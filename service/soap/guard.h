/*
 * guard.h - checks on the raw bytes of a request, before gSOAP parses them.
 *
 * gSOAP skips a <!DOCTYPE> and turns undefined entities into U+007F even in
 * strict mode, and it does not check UTF-8; the contract says DTDs are never
 * processed and identifiers must be valid UTF-8. The guard sees every byte
 * received (it wraps soap->frecv) and stops the request at the first DTD
 * construct or invalid UTF-8 sequence.
 *
 * gSOAP also takes control characters that XML 1.0 does not allow, raw or
 * as character references (&#1;, &#0;), and a NUL cuts the C string it
 * makes ("a&#0;b" reads as "a"). The guard refuses them too, outside
 * comments, CDATA sections and processing instructions, where a reference
 * is plain text (raw ones everywhere).
 */
#ifndef ENT_SOAP_GUARD_H
#define ENT_SOAP_GUARD_H

#include <stdbool.h>
#include <stddef.h>

typedef enum guard_verdict {
    GUARD_OK,       /* nothing wrong so far */
    GUARD_DTD,      /* a <!DOCTYPE or <!ENTITY declaration */
    GUARD_BAD_UTF8, /* bytes that are not UTF-8 */
    GUARD_BAD_CHAR  /* a character XML 1.0 does not allow (guard_t.bad) */
} guard_verdict_t;

/* Length of the longest markup the character check looks for ("<![CDATA["). */
#define GUARD_WINDOW 9

typedef struct guard {
    guard_verdict_t verdict;
    unsigned char tail[2]; /* the last bytes seen, for "<!" split across reads */
    size_t ntail;
    int need;              /* continuation bytes still expected */
    unsigned char lo, hi;  /* bounds of the next continuation byte */
    /* The character check. */
    unsigned char win[GUARD_WINDOW]; /* the last bytes seen, oldest first */
    int markup;            /* 0 text, 1 comment, 2 CDATA, 3 processing instruction */
    int ref;               /* 0 none, 1 "&", 2 "&#", 3 decimal digits, 4 "&#x", 5 hex digits */
    unsigned long value;   /* of the character reference being read */
    unsigned long bad;     /* the character refused (GUARD_BAD_CHAR) */
} guard_t;

void guard_reset(guard_t *g);

/* Scans buf; returns the verdict so far (sticky once not GUARD_OK). */
guard_verdict_t guard_feed(guard_t *g, const char *buf, size_t len);

#endif
