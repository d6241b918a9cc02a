// SPDX-License-Identifier: BSD-2-Clause
/* ew_json_strn: wire bytes (SNI, ALPN) become valid JSON strings. */
#include "lib/test.h"
#include "edgeward.h"

static bool strn_is(const char *in, size_t max, const char *want)
{
	json_object *o = ew_json_strn(in, max);
	bool ok;

	if (!want)
		return ASSERT_TRUE(o == NULL);
	ok = ASSERT_TRUE(o) && ASSERT_STREQ(json_object_get_string(o), want);
	json_object_put(o);
	return ok;
}

EW_TEST(json_strn_escapes_wire_bytes)
{
	CHECK(strn_is("h2", 16, "h2"));
	CHECK(strn_is("", 16, NULL));
	CHECK(strn_is("http/1.1", 4, "http"));			 /* bounded, not NUL-terminated */
	CHECK(strn_is("\xba\xad", 16, "\\xba\\xad"));		 /* non-ASCII ALPN (FoxIO's capture) */
	CHECK(strn_is("a\x01\x7f" "b", 16, "a\\x01\\x7fb"));	 /* control bytes */
	return true;
}
