// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <math.h>

#include "json.h"

void json_init(struct json *j, FILE *f)
{
	*j = (struct json){ .f = f };
}

void json_write_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Comma, newline, indentation and key before a value at the current level. */
static void json_prefix(struct json *j, const char *key)
{
	int d = j->depth;

	if (d == 0) {
		if (j->count[0] || key)
			j->error = true;
	} else if (j->in_object[d] != (key != NULL)) {
		j->error = true;
	}
	if (d > 0) {
		fputs(j->count[d] ? ",\n" : "\n", j->f);
		for (int i = 0; i < d; i++)
			fputs("  ", j->f);
	}
	if (key && d > 0) {
		json_write_escaped(j->f, key);
		fputs(": ", j->f);
	}
	j->count[d]++;
}

static void json_open(struct json *j, const char *key, bool object)
{
	json_prefix(j, key);
	fputc(object ? '{' : '[', j->f);
	if (j->depth + 1 >= JSON_MAX_DEPTH) {
		j->error = true;
		return;
	}
	j->depth++;
	j->in_object[j->depth] = object;
	j->count[j->depth] = 0;
}

static void json_close(struct json *j, bool object)
{
	if (j->depth == 0 || j->in_object[j->depth] != object) {
		j->error = true;
		return;
	}
	if (j->count[j->depth]) {
		fputc('\n', j->f);
		for (int i = 0; i < j->depth - 1; i++)
			fputs("  ", j->f);
	}
	fputc(object ? '}' : ']', j->f);
	j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void json_begin_object(struct json *j, const char *key)
{
	json_open(j, key, true);
}

void json_end_object(struct json *j)
{
	json_close(j, true);
}

void json_begin_array(struct json *j, const char *key)
{
	json_open(j, key, false);
}

void json_end_array(struct json *j)
{
	json_close(j, false);
}

void json_string(struct json *j, const char *key, const char *v)
{
	json_prefix(j, key);
	if (v)
		json_write_escaped(j->f, v);
	else
		fputs("null", j->f);
}

void json_number(struct json *j, const char *key, double v)
{
	json_prefix(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.10g", v);
	else
		fputs("null", j->f);
}

void json_int(struct json *j, const char *key, int64_t v)
{
	json_prefix(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_uint(struct json *j, const char *key, uint64_t v)
{
	json_prefix(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_prefix(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	json_prefix(j, key);
	fputs("null", j->f);
}

int json_finish(struct json *j)
{
	if (fflush(j->f) || ferror(j->f))
		j->error = true;
	return j->depth || j->error || !j->count[0] ? -1 : 0;
}
