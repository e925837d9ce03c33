/* hello: a small HTTP/1.1 service. `hello` serves on :8080, `hello --listen <ip>:<port>` where
   asked (port 0: any free port), `hello --version` prints the version it was built as.
   One thread: poll over non-blocking sockets, so a slow client never holds up the others.
   SIGTERM or SIGINT ends it with exit code 0. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

#define MAX_CONNECTIONS 512
#define HEAD_MAX 8192
#define RESPONSE_MAX 4096
#define IDLE_SECONDS 60

/* One client connection: what it sent that is not answered yet, and what is still to send. */
struct connection {
  int fd;
  char in[HEAD_MAX];
  size_t in_len;
  char out[RESPONSE_MAX];
  size_t out_len, out_sent;
  int close_after; /* close once out is sent */
  time_t last_active;
};

static struct connection connections[MAX_CONNECTIONS];
static int connection_count;
static struct counters counters;
static const struct service service = {VERSION, FAILURE_PERCENT};
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static void drop(int i) {
  close(connections[i].fd);
  connections[i] = connections[--connection_count];
}

/* Sends what is pending; returns -1 when the connection is to be dropped. */
static int flush(struct connection* c) {
  while (c->out_sent < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    c->out_sent += (size_t)n;
  }
  c->out_len = c->out_sent = 0;
  return c->close_after ? -1 : 0;
}

/* Answers the complete requests in c->in, one at a time: the next only once the previous
   response is sent. Returns -1 when the connection is to be dropped. */
static int serve(struct connection* c) {
  while (c->out_len == 0 && !c->close_after) {
    struct request req;
    long head = parse_request(c->in, c->in_len, &req);
    if (head == 0 && c->in_len < sizeof c->in) return 0;
    if (head <= 0) {
      c->out_len = respond_bad_request(c->out, sizeof c->out);
      c->close_after = 1;
    } else {
      c->out_len = respond(&service, &req, &counters, c->out, sizeof c->out);
      c->close_after = !req.keep_alive;
      memmove(c->in, c->in + head, c->in_len - (size_t)head);
      c->in_len -= (size_t)head;
    }
    if (flush(c) < 0) return -1;
  }
  return 0;
}

/* Reads what the client sent and answers it. Returns -1 when the connection is to be dropped. */
static int receive(struct connection* c) {
  ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
  if (n == 0) return -1;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  c->in_len += (size_t)n;
  return serve(c);
}

static void accept_all(int listener) {
  while (connection_count < MAX_CONNECTIONS) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        perror("hello: accept");
      return;
    }
    struct connection* c = &connections[connection_count++];
    c->fd = fd;
    c->in_len = c->out_len = c->out_sent = 0;
    c->close_after = 0;
    c->last_active = time(NULL);
  }
}

/* Parses "[<ipv4>]:<port>" into addr; prints why not and returns -1 when it is not that. */
static int parse_listen(const char* text, struct sockaddr_in* addr) {
  const char* colon = strrchr(text, ':');
  char host[64];
  char* rest;
  memset(addr, 0, sizeof *addr);
  addr->sin_family = AF_INET;
  if (!colon || (size_t)(colon - text) >= sizeof host) goto bad;
  memcpy(host, text, (size_t)(colon - text));
  host[colon - text] = '\0';
  errno = 0;
  long port = strtol(colon + 1, &rest, 10);
  if (colon[1] == '\0' || *rest != '\0' || errno != 0 || port < 0 || port > 65535) goto bad;
  addr->sin_port = htons((unsigned short)port);
  if (host[0] == '\0')
    addr->sin_addr.s_addr = htonl(INADDR_ANY);
  else if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
    goto bad;
  return 0;
bad:
  fprintf(stderr, "hello: --listen %s: want [<IPv4 address>]:<port>, e.g. :8080 or 127.0.0.1:0\n",
          text);
  return -1;
}

static int open_listener(const struct sockaddr_in* addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(fd, (const struct sockaddr*)addr, sizeof *addr) < 0 || listen(fd, 128) < 0) {
    perror("hello: listen");
    return -1;
  }
  return fd;
}

static void usage(FILE* out) {
  fprintf(out,
          "usage: hello [--listen [<IPv4 address>]:<port>] | --version\n"
          "Serves / (the greeting), /healthz and /metrics over HTTP, on :8080 by default.\n");
}

int main(int argc, char** argv) {
  const char* listen_at = ":8080";
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("hello %s (fails %d%% of requests to /)\n", VERSION, FAILURE_PERCENT);
      return 0;
    } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      listen_at = argv[++i];
    } else if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "hello: unexpected argument %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  struct sockaddr_in addr;
  if (parse_listen(listen_at, &addr) < 0) return 2;
  int listener = open_listener(&addr);
  if (listener < 0) return 1;
  socklen_t addr_len = sizeof addr;
  getsockname(listener, (struct sockaddr*)&addr, &addr_len);
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);

  /* SIGTERM and SIGINT are blocked except inside ppoll, so none is lost between checks. */
  sigset_t blocked, during_poll;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigprocmask(SIG_BLOCK, &blocked, &during_poll);
  sigdelset(&during_poll, SIGTERM);
  sigdelset(&during_poll, SIGINT);
  struct sigaction action = {0};
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  signal(SIGPIPE, SIG_IGN);

  printf("hello %s listening on %s:%d (fails %d%% of requests to /)\n", VERSION, host,
         ntohs(addr.sin_port), FAILURE_PERCENT);
  fflush(stdout);

  static struct pollfd fds[MAX_CONNECTIONS + 1];
  while (!stop_signal) {
    fds[0].fd = connection_count < MAX_CONNECTIONS ? listener : -1;
    fds[0].events = POLLIN;
    for (int i = 0; i < connection_count; ++i) {
      fds[i + 1].fd = connections[i].fd;
      fds[i + 1].events = connections[i].out_len ? POLLOUT : POLLIN;
    }
    const struct timespec tick = {1, 0};
    int ready = ppoll(fds, (nfds_t)connection_count + 1, &tick, &during_poll);
    if (ready < 0 && errno != EINTR) {
      perror("hello: poll");
      return 1;
    }
    time_t now = time(NULL);
    /* Backwards, so that drop() (which moves the last connection into the gap) only moves one
       already handled; the poll entries keep their indexes. */
    for (int i = connection_count - 1; ready > 0 && i >= 0; --i) {
      struct connection* c = &connections[i];
      short revents = fds[i + 1].revents;
      if (!revents) continue;
      c->last_active = now;
      int result = (revents & POLLOUT) ? flush(c) : 0;
      if (result == 0 && (revents & POLLOUT) && c->out_len == 0) result = serve(c);
      if (result == 0 && (revents & (POLLIN | POLLHUP | POLLERR))) result = receive(c);
      if (result < 0) drop(i);
    }
    for (int i = connection_count - 1; i >= 0; --i)
      if (now - connections[i].last_active > IDLE_SECONDS) drop(i);
    if (ready > 0 && (fds[0].revents & POLLIN)) accept_all(listener);
  }
  printf("hello %s stopping on %s\n", VERSION, strsignal(stop_signal));
  return 0;
}
