/*
 * ids.h - random identifiers: request ids and generated activation ids.
 */
#ifndef ENT_IDS_H
#define ENT_IDS_H

#include <stddef.h>

#include "err.h"

/* Length of a generated activation id: 8 groups of 4 characters and 7 dashes. */
#define IDS_ACTIVATION_ID_LEN 39

/* Writes a generated activation id ("abcd-0123-...", 8 groups of 4
 * lowercase alphanumerics) and a NUL into buf, which holds at least
 * IDS_ACTIVATION_ID_LEN + 1 bytes. */
int ids_activation_id(char *buf, size_t len) ENT_MUSTCHECK;

/* Writes a 16-hex-digit request id and a NUL into buf (at least 17 bytes). */
int ids_request_id(char *buf, size_t len) ENT_MUSTCHECK;

#endif
