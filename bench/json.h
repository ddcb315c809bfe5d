/* SPDX-License-Identifier: MIT */
/*
 * A small streaming JSON writer (RFC 8259): objects and arrays nest, commas
 * and indentation are handled here, strings are escaped, non-finite numbers
 * are written as null.  Inside an object every value takes a key; inside an
 * array and at the top level the key is NULL.
 */
#ifndef WCPOOL_BENCH_JSON_H
#define WCPOOL_BENCH_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
	FILE *f;
	int depth;
	bool error;			/* misuse or nesting too deep */
	bool in_object[JSON_MAX_DEPTH];
	unsigned count[JSON_MAX_DEPTH];	/* values written at each level */
};

void json_init(struct json *j, FILE *f);
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);
void json_string(struct json *j, const char *key, const char *v);
void json_number(struct json *j, const char *key, double v);
void json_int(struct json *j, const char *key, int64_t v);
void json_uint(struct json *j, const char *key, uint64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/* Write @s as a JSON string literal (quotes included). */
void json_write_escaped(FILE *f, const char *s);
/*
 * End the document.  Return: 0, or -1 when it is incomplete (open objects
 * or arrays), a value was misplaced, or the stream had a write error.
 */
int json_finish(struct json *j);

#endif
