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

/* Whether password matches hash (compared in constant time): ENT_OK, or
 * ENT_EAUTH when it does not (or the hash is not one crypt(3) reads), or
 * ENT_ENOMEM when it could not be checked now (yescrypt's memory). */
int password_check(const char *password, const char *hash);

#endif
