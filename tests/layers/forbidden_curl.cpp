// Compiled as part of lib/generation by the forbidden-include check: libcurl is private to
// lib/net, so this must fail to compile.
#include <curl/curl.h>

int ForbiddenCurlProbe() { return CURL_GLOBAL_DEFAULT != 0 ? 1 : 0; }
