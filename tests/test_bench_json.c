// SPDX-License-Identifier: MIT
/* bench/json.c: nesting, commas, escaping, numbers, misuse detection. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Run @fn on a writer over a memory stream; return the text and the
 * json_finish() result. */
static char *render(void (*fn)(struct json *), int *finish)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	cr_assert_not_null(f);
	json_init(&j, f);
	fn(&j);
	*finish = json_finish(&j);
	fclose(f);
	return buf;
}

/* The text with all whitespace outside strings removed. */
static char *squeeze(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	bool in_str = false;

	cr_assert_not_null(out);
	for (; *s; s++) {
		if (in_str) {
			*o++ = *s;
			if (*s == '\\' && s[1])
				*o++ = *++s;
			else if (*s == '"')
				in_str = false;
		} else if (*s == '"') {
			in_str = true;
			*o++ = *s;
		} else if (!strchr(" \n\t", *s)) {
			*o++ = *s;
		}
	}
	*o = 0;
	return out;
}

static void doc_nested(struct json *j)
{
	json_begin_object(j, NULL);
	json_string(j, "name", "fill");
	json_uint(j, "size", 4096);
	json_int(j, "neg", -3);
	json_bool(j, "ok", true);
	json_null(j, "none");
	json_begin_array(j, "samples");
	json_number(j, NULL, 1.5);
	json_number(j, NULL, 2);
	json_end_array(j);
	json_begin_array(j, "empty");
	json_end_array(j);
	json_begin_object(j, "inner");
	json_begin_array(j, "objs");
	json_begin_object(j, NULL);
	json_uint(j, "a", 1);
	json_end_object(j);
	json_begin_object(j, NULL);
	json_end_object(j);
	json_end_array(j);
	json_end_object(j);
	json_end_object(j);
}

Test(json, nested_document)
{
	int fin;
	char *text = render(doc_nested, &fin), *s = squeeze(text);

	cr_assert_eq(fin, 0);
	cr_assert_str_eq(s, "{\"name\":\"fill\",\"size\":4096,\"neg\":-3,"
			    "\"ok\":true,\"none\":null,\"samples\":[1.5,2],"
			    "\"empty\":[],\"inner\":{\"objs\":[{\"a\":1},{}]}}");
	cr_assert_eq(text[strlen(text) - 1], '\n');
	free(s);
	free(text);
}

static void doc_escapes(struct json *j)
{
	json_begin_array(j, NULL);
	json_string(j, NULL, "quote\" back\\ nl\n tab\t cr\r bell\a");
	json_string(j, NULL, "utf-8 \xc3\xa9 stays");
	json_string(j, NULL, NULL);
	json_end_array(j);
}

Test(json, strings_are_escaped)
{
	int fin;
	char *text = render(doc_escapes, &fin), *s = squeeze(text);

	cr_assert_eq(fin, 0);
	cr_assert_str_eq(s, "[\"quote\\\" back\\\\ nl\\n tab\\t cr\\r bell\\u0007\","
			    "\"utf-8 \xc3\xa9 stays\",null]");
	free(s);
	free(text);
}

static void doc_numbers(struct json *j)
{
	json_begin_array(j, NULL);
	json_number(j, NULL, NAN);
	json_number(j, NULL, INFINITY);
	json_number(j, NULL, -INFINITY);
	json_number(j, NULL, 0.1);
	json_number(j, NULL, 1e300);
	json_uint(j, NULL, UINT64_MAX);
	json_int(j, NULL, INT64_MIN);
	json_end_array(j);
}

Test(json, non_finite_numbers_are_null_and_integers_exact)
{
	int fin;
	char *text = render(doc_numbers, &fin), *s = squeeze(text);

	cr_assert_eq(fin, 0);
	cr_assert_str_eq(s, "[null,null,null,0.1,1e+300,18446744073709551615,"
			    "-9223372036854775808]");
	free(s);
	free(text);
}

static void doc_unclosed(struct json *j)
{
	json_begin_object(j, NULL);
	json_begin_array(j, "a");
}

static void doc_key_in_array(struct json *j)
{
	json_begin_array(j, NULL);
	json_uint(j, "key", 1);
	json_end_array(j);
}

static void doc_no_key_in_object(struct json *j)
{
	json_begin_object(j, NULL);
	json_uint(j, NULL, 1);
	json_end_object(j);
}

static void doc_wrong_close(struct json *j)
{
	json_begin_object(j, NULL);
	json_end_array(j);
	json_end_object(j);
}

static void doc_two_roots(struct json *j)
{
	json_begin_object(j, NULL);
	json_end_object(j);
	json_begin_object(j, NULL);
	json_end_object(j);
}

static void doc_empty(struct json *j)
{
	(void)j;
}

static void doc_too_deep(struct json *j)
{
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_begin_array(j, NULL);
	for (int i = 0; i < JSON_MAX_DEPTH + 2; i++)
		json_end_array(j);
}

Test(json, misuse_makes_finish_fail)
{
	void (*docs[])(struct json *) = { doc_unclosed, doc_key_in_array,
					  doc_no_key_in_object, doc_wrong_close,
					  doc_two_roots, doc_empty, doc_too_deep };

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		int fin;
		char *text = render(docs[i], &fin);

		cr_assert_eq(fin, -1, "document %zu accepted: %s", i, text);
		free(text);
	}
}

Test(json, write_error_makes_finish_fail)
{
	FILE *f = fopen("/dev/full", "w");
	struct json j;

	if (!f)
		cr_skip_test("no /dev/full");
	setvbuf(f, NULL, _IONBF, 0);
	json_init(&j, f);
	json_begin_object(&j, NULL);
	json_string(&j, "k", "v");
	json_end_object(&j);
	cr_assert_eq(json_finish(&j), -1);
	fclose(f);
}
