/* The pure parts of hello's HTTP service: which requests fail, the metrics text, request
   parsing and the response to each request. No sockets here (main.c owns them), so
   hello_test.c tests all of it directly. */
#ifndef APP_H
#define APP_H
#include <stddef.h>

/* Whether request number k (0, 1, 2, ... counted over the requests to /) fails when percent
   (0 to 100) of them are to fail. Deterministic and evenly spread: over any 100 consecutive k
   exactly `percent` fail. */
int request_fails(unsigned long long k, int percent);

/* How many requests to / were answered, by status code. */
struct counters {
  unsigned long long ok;     /* 200 */
  unsigned long long failed; /* 500 */
};

/* Writes the Prometheus text exposition of the counters and of hello_build_info{version}
   into out (size bytes). Returns its length, or 0 when it does not fit. */
size_t render_metrics(char* out, size_t size, const struct counters* c, const char* version);

/* A parsed request head (request line and the headers hello looks at). */
struct request {
  char method[16];
  char path[1024]; /* the target without its query */
  int keep_alive;  /* the connection stays open after the response */
};

/* Parses the request head at the start of buf (len bytes). Returns the head's length (up to and
   including the blank line) when it is complete and valid, 0 when more bytes are needed, and
   -1 when it is malformed (or has a body, which hello never expects). */
long parse_request(const char* buf, size_t len, struct request* req);

/* The service's settings, fixed at build time. */
struct service {
  const char* version;
  int failure_percent;
};

/* Writes the whole HTTP/1.1 response to req into out (size bytes, at least 2048) and counts
   requests to / in c. Returns the response's length. */
size_t respond(const struct service* s, const struct request* req, struct counters* c, char* out,
               size_t size);

/* The response to a head parse_request found malformed (400, closes the connection). */
size_t respond_bad_request(char* out, size_t size);

#endif
