#include "app.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "greet.h"

int request_fails(unsigned long long k, int percent) {
  /* (k+1)·percent mod 100 runs through the multiples of gcd(percent, 100), each gcd times per
     100 consecutive k, and exactly percent/gcd of them lie below percent. The first request
     succeeds unless percent is 100. */
  return (int)(((k % 100 + 1) * (unsigned long long)percent) % 100) < percent;
}

/* Appends value to out as the inside of a Prometheus label value (\, " and newline escaped). */
static size_t label_value(char* out, size_t size, const char* value) {
  size_t n = 0;
  for (; *value; ++value) {
    const char* escaped = *value == '\\'   ? "\\\\"
                          : *value == '"'  ? "\\\""
                          : *value == '\n' ? "\\n"
                                           : NULL;
    size_t len = escaped ? 2 : 1;
    if (n + len >= size) return size;
    memcpy(out + n, escaped ? escaped : value, len);
    n += len;
  }
  out[n] = '\0';
  return n;
}

size_t render_metrics(char* out, size_t size, const struct counters* c, const char* version) {
  char label[256];
  if (label_value(label, sizeof label, version) >= sizeof label) return 0;
  int n = snprintf(out, size,
                   "# HELP http_requests_total Requests to / answered, by status code.\n"
                   "# TYPE http_requests_total counter\n"
                   "http_requests_total{code=\"200\"} %llu\n"
                   "http_requests_total{code=\"500\"} %llu\n"
                   "# HELP hello_build_info The version hello was built as.\n"
                   "# TYPE hello_build_info gauge\n"
                   "hello_build_info{version=\"%s\"} 1\n",
                   c->ok, c->failed, label);
  return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* The end of the line starting at p (its '\r' of "\r\n"), or NULL when end comes first. */
static const char* line_end(const char* p, const char* end) {
  for (; p + 1 < end; ++p)
    if (p[0] == '\r' && p[1] == '\n') return p;
  return NULL;
}

/* Whether the comma-separated header value [p, end) holds token (case-insensitive). */
static int has_token(const char* p, const char* end, const char* token) {
  size_t len = strlen(token);
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) ++p;
    const char* start = p;
    while (p < end && *p != ',') ++p;
    const char* stop = p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) --stop;
    if ((size_t)(stop - start) == len && strncasecmp(start, token, len) == 0) return 1;
  }
  return 0;
}

/* Whether the header line [p, end) is named name; if so *value is where its value starts. */
static int header_is(const char* p, const char* end, const char* name, const char** value) {
  size_t len = strlen(name);
  if ((size_t)(end - p) <= len || p[len] != ':' || strncasecmp(p, name, len) != 0) return 0;
  for (p += len + 1; p < end && (*p == ' ' || *p == '\t');) ++p;
  *value = p;
  return 1;
}

long parse_request(const char* buf, size_t len, struct request* req) {
  const char* end = buf + len;
  const char* eol = line_end(buf, end);
  if (!eol) return 0;

  /* The request line: METHOD SP target SP HTTP/1.x */
  const char* p = buf;
  size_t n = 0;
  while (p < eol && *p >= 'A' && *p <= 'Z' && n < sizeof req->method - 1) req->method[n++] = *p++;
  req->method[n] = '\0';
  if (n == 0 || p >= eol || *p++ != ' ' || p >= eol || *p != '/') return -1;
  n = 0;
  int in_query = 0;
  for (; p < eol && *p != ' '; ++p) {
    if ((unsigned char)*p <= ' ' || *p == 0x7f) return -1;
    if (*p == '?') in_query = 1;
    if (in_query) continue;
    if (n == sizeof req->path - 1) return -1;
    req->path[n++] = *p;
  }
  req->path[n] = '\0';
  if (p >= eol || *p++ != ' ' || eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 ||
      (p[7] != '0' && p[7] != '1'))
    return -1;
  req->keep_alive = p[7] == '1';

  /* The headers, up to the blank line. */
  for (p = eol + 2;; p = eol + 2) {
    eol = line_end(p, end);
    if (!eol) return 0;
    if (eol == p) return (long)(eol + 2 - buf);
    const char* value;
    if (!memchr(p, ':', (size_t)(eol - p)) || *p == ' ' || *p == '\t') return -1;
    if (header_is(p, eol, "Connection", &value)) {
      if (has_token(value, eol, "close")) req->keep_alive = 0;
      if (has_token(value, eol, "keep-alive")) req->keep_alive = 1;
    } else if (header_is(p, eol, "Transfer-Encoding", &value)) {
      return -1;
    } else if (header_is(p, eol, "Content-Length", &value)) {
      if (eol - value != 1 || *value != '0') return -1;
    }
  }
}

/* Writes a response with a text body (none for HEAD, its length still given). */
static size_t write_response(char* out, size_t size, const char* status, const char* type,
                             const char* body, int keep_alive, int head, const char* extra) {
  int n = snprintf(out, size,
                   "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: "
                   "%s\r\n\r\n%s",
                   status, type, strlen(body), extra, keep_alive ? "keep-alive" : "close",
                   head ? "" : body);
  return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

static const char kText[] = "text/plain; charset=utf-8";

size_t respond(const struct service* s, const struct request* req, struct counters* c, char* out,
               size_t size) {
  int head = strcmp(req->method, "HEAD") == 0;
  int known = strcmp(req->path, "/") == 0 || strcmp(req->path, "/healthz") == 0 ||
              strcmp(req->path, "/metrics") == 0;
  char body[1024];
  if (!known)
    return write_response(out, size, "404 Not Found", kText, "not found\n", req->keep_alive, head,
                          "");
  if (!head && strcmp(req->method, "GET") != 0)
    return write_response(out, size, "405 Method Not Allowed", kText, "only GET and HEAD\n",
                          req->keep_alive, 0, "Allow: GET, HEAD\r\n");
  if (strcmp(req->path, "/healthz") == 0)
    return write_response(out, size, "200 OK", kText, "ok\n", req->keep_alive, head, "");
  if (strcmp(req->path, "/metrics") == 0) {
    if (render_metrics(body, sizeof body, c, s->version) == 0)
      return write_response(out, size, "500 Internal Server Error", kText, "metrics too long\n",
                            req->keep_alive, head, "");
    return write_response(out, size, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body,
                          req->keep_alive, head, "");
  }
  if (request_fails(c->ok + c->failed, s->failure_percent)) {
    ++c->failed;
    snprintf(body, sizeof body, "failed on purpose (version %s fails %d%% of requests)\n",
             s->version, s->failure_percent);
    return write_response(out, size, "500 Internal Server Error", kText, body, req->keep_alive,
                          head, "");
  }
  ++c->ok;
  char greeting[256];
  greet(greeting, sizeof greeting, "world");
  snprintf(body, sizeof body, "%s (version %s)\n", greeting, s->version);
  return write_response(out, size, "200 OK", kText, body, req->keep_alive, head, "");
}

size_t respond_bad_request(char* out, size_t size) {
  return write_response(out, size, "400 Bad Request", kText, "bad request\n", 0, 0, "");
}
