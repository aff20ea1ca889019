/*
 * password.h - salted password hashes with crypt(3) (yescrypt).
 */
#ifndef ENT_PASSWORD_H
#define ENT_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* Longest hash string crypt(3) produces, with its NUL. */
#define PASSWORD_HASH_MAX 128

/* Hashes password with a fresh random salt into hash (hashlen bytes). */
int password_hash(const char *password, char *hash, size_t hashlen) ENT_MUSTCHECK;

/* True when password matches hash; compares in constant time. */
bool password_verify(const char *password, const char *hash);

#endif
