/*
 * A preload library for nginx: a fixed SO_RCVBUF on every TCP socket nginx connects, set just
 * before connect(2) — what nginx's `proxy_socket_rcvbuf` directive does from nginx 1.31.3 on,
 * for an nginx that has no such directive. A fixed receive buffer also turns the kernel's
 * autotuning off for the socket, so the bytes nginx's connection to an upstream can hold for a
 * client slower than the stream stay bounded (autotuned, they grew to megabytes).
 *
 * The size is read once, when the library loads, from KUBESCALER_UPSTREAM_RCVBUF_BYTES (nginx
 * forks its workers from the master and clears their environment). Missing or malformed, the
 * process is ended with a message at once: a gateway that silently ran without the bound would
 * deliver stale events. Built and loaded by libs/infra/nginx.mjs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SIZE_VARIABLE "KUBESCALER_UPSTREAM_RCVBUF_BYTES"

static int rcvbuf_bytes;
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int reported_failure;

__attribute__((constructor)) static void load(void) {
  const char *text = getenv(SIZE_VARIABLE);
  char *end = NULL;
  long value = text ? strtol(text, &end, 10) : 0;
  if (!text || end == text || *end != '\0' || value <= 0 || value > (1L << 30)) {
    fprintf(stderr, "upstream-rcvbuf: %s must be a byte count in [1, 2^30], got %s\n", SIZE_VARIABLE,
            text ? text : "(unset)");
    _exit(78);
  }
  rcvbuf_bytes = (int)value;
  real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
  if (!real_connect) {
    fprintf(stderr, "upstream-rcvbuf: connect(2) not found: %s\n", dlerror());
    _exit(78);
  }
}

int connect(int fd, const struct sockaddr *address, socklen_t length) {
  int type = 0;
  socklen_t size = sizeof type;
  if (address && (address->sa_family == AF_INET || address->sa_family == AF_INET6) &&
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_STREAM &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes) != 0 && !reported_failure) {
    reported_failure = 1;
    fprintf(stderr, "upstream-rcvbuf: setsockopt(SO_RCVBUF, %d) failed: %s\n", rcvbuf_bytes, strerror(errno));
  }
  return real_connect(fd, address, length);
}
