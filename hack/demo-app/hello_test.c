/* The tests of hello's pure parts: the greeting, the failure share, the metrics text, request
   parsing and the responses. Each case prints PASS or FAIL; the exit code is 1 on any failure.
   The failure share is tested for several percentages and, for the one this build is
   configured with (FAILURE_PERCENT), for its properties: a build that fails requests on purpose
   still passes its tests. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "greet.h"

static int failures;

static void check(int ok, const char* what) {
  printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
  if (!ok) ++failures;
}

static void check_greet(const char* name, size_t size, const char* want) {
  char got[256], what[512];
  greet(got, size, name);
  snprintf(what, sizeof what, "greet(\"%s\", %zu) = \"%s\", want \"%s\"", name, size, got, want);
  check(strcmp(got, want) == 0, what);
}

/* Over `span` consecutive requests from `first`, how many fail at `percent`. */
static int failed_of(unsigned long long first, int span, int percent) {
  int n = 0;
  for (int k = 0; k < span; ++k) n += request_fails(first + (unsigned long long)k, percent);
  return n;
}

/* Exactly `percent` of any 100 consecutive requests fail, and no 10 consecutive ones hold more
   than their share rounded up (the failures are spread, not bunched). */
static void check_share(int percent) {
  char what[128];
  int exact = 1, spread = 1;
  for (unsigned long long first = 0; first < 250; first += 7) {
    exact &= failed_of(first, 100, percent) == percent;
    spread &= failed_of(first, 10, percent) <= (percent + 9) / 10;
  }
  exact &= failed_of(18446744073709551000ull, 100, percent) == percent;
  snprintf(what, sizeof what, "%d%%: exactly %d of any 100 consecutive requests fail", percent,
           percent);
  check(exact, what);
  snprintf(what, sizeof what, "%d%%: at most %d of any 10 consecutive requests fail", percent,
           (percent + 9) / 10);
  check(spread, what);
}

static void check_metrics(void) {
  char out[1024];
  struct counters c = {7, 3};
  size_t n = render_metrics(out, sizeof out, &c, "v4");
  check(n == strlen(out) && strstr(out, "\nhttp_requests_total{code=\"200\"} 7\n") &&
            strstr(out, "\nhttp_requests_total{code=\"500\"} 3\n") &&
            strstr(out, "# TYPE http_requests_total counter\n") &&
            strstr(out, "\nhello_build_info{version=\"v4\"} 1\n"),
        "metrics: both request counters and the build info");
  struct counters zero = {0, 0};
  render_metrics(out, sizeof out, &zero, "v1");
  check(strstr(out, "{code=\"200\"} 0\n") && strstr(out, "{code=\"500\"} 0\n"),
        "metrics: both series are there from the start, at 0");
  render_metrics(out, sizeof out, &zero, "a\"b\\c");
  check(strstr(out, "hello_build_info{version=\"a\\\"b\\\\c\"} 1\n") != NULL,
        "metrics: quotes and backslashes in the version are escaped");
  check(render_metrics(out, 100, &c, "v4") == 0, "metrics: a too small buffer gives 0");
}

/* parse_request on text: the result, and for a complete head its method, path and keep-alive. */
static void check_parse(const char* text, long want, const char* method, const char* path,
                        int keep_alive) {
  struct request req;
  char what[512];
  long got = parse_request(text, strlen(text), &req);
  int ok = got == want;
  if (ok && want > 0)
    ok = strcmp(req.method, method) == 0 && strcmp(req.path, path) == 0 &&
         req.keep_alive == keep_alive;
  snprintf(what, sizeof what, "parse %.60s... = %ld, want %ld", text, got, want);
  for (char* p = what; *p; ++p)
    if (*p == '\r' || *p == '\n') *p = ' ';
  check(ok, what);
}

static void check_parsing(void) {
  const char* get = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n";
  check_parse(get, (long)strlen("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), "GET", "/metrics",
              1);
  check_parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 37, "GET", "/", 0);
  check_parse("GET / HTTP/1.0\r\n\r\n", 18, "GET", "/", 0);
  check_parse("HEAD / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", 43, "HEAD", "/", 1);
  check_parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 37, "GET", "/", 1);
  check_parse("GET / HTTP/1.1\r\nHost: a\r\n", 0, "", "", 0);
  check_parse("GET / HTT", 0, "", "", 0);
  check_parse("GET / HTTP/2.0\r\n\r\n", -1, "", "", 0);
  check_parse("get / HTTP/1.1\r\n\r\n", -1, "", "", 0);
  check_parse("GET x HTTP/1.1\r\n\r\n", -1, "", "", 0);
  check_parse("GET  / HTTP/1.1\r\n\r\n", -1, "", "", 0);
  check_parse("GET / HTTP/1.1\r\nno colon\r\n\r\n", -1, "", "", 0);
  check_parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", -1, "", "", 0);
  check_parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -1, "", "", 0);
}

/* The response to one request, with its status line checked and its body returned. */
static const char* exchange(const struct service* s, struct counters* c, const char* text,
                            const char* status) {
  static char out[4096];
  struct request req;
  char what[256], line[128];
  if (parse_request(text, strlen(text), &req) <= 0) {
    check(0, "a test request parses");
    return "";
  }
  size_t n = respond(s, &req, c, out, sizeof out);
  out[n] = '\0';
  snprintf(line, sizeof line, "%s", text);
  line[strcspn(line, "\r")] = '\0';
  snprintf(what, sizeof what, "%s answers %s", line, status);
  check(strncmp(out, "HTTP/1.1 ", 9) == 0 && strncmp(out + 9, status, strlen(status)) == 0, what);
  char* body = strstr(out, "\r\n\r\n");
  return body ? body + 4 : "";
}

static void check_responses(void) {
  struct service good = {"v2", 0}, bad = {"v3", 50};
  struct counters c = {0, 0};
  const char* root = "GET / HTTP/1.1\r\n\r\n";
  check(strcmp(exchange(&good, &c, root, "200"), "hello, world (version v2)\n") == 0,
        "/ greets with the version");
  check(strcmp(exchange(&good, &c, "GET /healthz HTTP/1.1\r\n\r\n", "200"), "ok\n") == 0,
        "/healthz says ok");
  check(strstr(exchange(&good, &c, "GET /metrics HTTP/1.1\r\n\r\n", "200"), "{code=\"200\"} 1\n") !=
            NULL,
        "/metrics counts the request to /, not the others");
  exchange(&good, &c, "GET /nothing HTTP/1.1\r\n\r\n", "404");
  exchange(&good, &c, "DELETE / HTTP/1.1\r\n\r\n", "405");
  check(strcmp(exchange(&good, &c, "HEAD / HTTP/1.1\r\n\r\n", "200"), "") == 0, "HEAD has no body");
  struct counters b = {0, 0};
  exchange(&bad, &b, root, "200");
  exchange(&bad, &b, root, "500");
  exchange(&bad, &b, root, "200");
  exchange(&bad, &b, root, "500");
  check(b.ok == 2 && b.failed == 2, "at 50% every second request to / fails, and is counted");
  char out[256];
  respond_bad_request(out, sizeof out);
  check(strncmp(out, "HTTP/1.1 400 ", 13) == 0 && strstr(out, "Connection: close\r\n"),
        "a malformed request gets 400 and the connection closes");
}

int main(void) {
  check_greet("world", 256, "hello, world");
  check_greet("flywheel", 256, "hello, flywheel");
  check_greet("world", 6, "hello"); /* cut to the buffer, still terminated */
  int percents[] = {0, 1, 5, 10, 25, 30, 33, 50, 99, 100, FAILURE_PERCENT};
  for (size_t i = 0; i < sizeof percents / sizeof *percents; ++i) check_share(percents[i]);
  check(!request_fails(0, 0) && request_fails(0, 100), "0% never fails, 100% always");
  check_metrics();
  check_parsing();
  check_responses();
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures != 0;
}
