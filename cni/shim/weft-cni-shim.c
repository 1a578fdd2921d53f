/*
 * weft-cni-shim: the CNI plugin executable a runtime starts for every pod, when weft's CNI server
 * (cni/server.ts, a resident Node.js process on the node) runs. Starting Node.js costs ~60 ms on
 * a small node, more than the reference plugins' whole ADD; this shim starts in ~1 ms, hands the
 * call (plugin name from argv[0], the CNI_* environment, the config on stdin, its own pid so the
 * server can act in the shim's network namespace) to the server over a unix socket, and prints
 * what the server answers with its exit code.
 *
 * When the server's socket does not answer, the shim execs the plain Node.js entry of the same
 * plugin (WEFT_CNI_FALLBACK_DIR/<name>, by default dist/bin/<name> for dist/shim/weft-cni-shim), before
 * reading stdin, so every call still works without the server.
 *
 * Wire format, one call per connection: a 4-byte big-endian length then that many bytes of JSON,
 * in both directions. Request {"plugin","pid","env":{...},"stdin":"..."}; reply
 * {"stdout","stderr","exitCode"}.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/weft/cni.sock"
#define MAX_REPLY (64u << 20)

extern char **environ;

struct buf {
  char *data;
  size_t len, cap;
};

static void die(const char *what) {
  /* Error JSON as the spec wants it: code 11 lets the runtime retry. */
  printf("{\"code\":11,\"msg\":\"weft-cni-shim: %s: %s\"}", what, strerror(errno));
  exit(1);
}

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) die("out of memory");
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* Appends s as a JSON string literal. */
static void put_json_string(struct buf *b, const char *s, size_t n) {
  puts_(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(b, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(b, esc, 6);
    } else {
      put(b, (const char *)&s[i], 1);
    }
  }
  puts_(b, "\"");
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

static int read_full(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Replaces this process with the Node.js entry of the same plugin; stdin is still unread. */
static void fallback(const char *name, char **argv) {
  char dir[PATH_MAX];
  const char *configured = getenv("WEFT_CNI_FALLBACK_DIR");
  if (configured) {
    snprintf(dir, sizeof dir, "%s", configured);
  } else {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) die("readlink /proc/self/exe");
    self[n] = '\0';
    snprintf(dir, sizeof dir, "%s/../bin", dirname(self));
  }
  char entry[PATH_MAX + NAME_MAX + 2];
  snprintf(entry, sizeof entry, "%s/%s", dir, name);
  /* Runtimes pass their environment on; a Node.js plugin would parse this CA bundle at start
   * (~40 ms) and needs no TLS trust store. */
  unsetenv("NODE_EXTRA_CA_CERTS");
  execv(entry, argv);
  die(entry);
}

/* Extracts the value of "key": from the flat reply object (a string or an integer). */
static const char *find_key(const char *json, const char *key) {
  char pattern[32];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = strstr(json, pattern);
  return at ? at + strlen(pattern) : NULL;
}

/* Decodes the JSON string starting at p (at its opening quote) to fd. */
static void write_json_string(int fd, const char *p) {
  if (!p || *p != '"') return;
  struct buf out = {0};
  for (p++; *p && *p != '"'; p++) {
    if (*p != '\\') {
      put(&out, p, 1);
      continue;
    }
    p++;
    char c = *p;
    switch (c) {
      case 'n': put(&out, "\n", 1); break;
      case 't': put(&out, "\t", 1); break;
      case 'r': put(&out, "\r", 1); break;
      case 'b': put(&out, "\b", 1); break;
      case 'f': put(&out, "\f", 1); break;
      case 'u': {
        /* The server escapes only control characters (JSON.stringify), so 1 byte is enough. */
        char hex[5] = {p[1], p[2], p[3], p[4], 0};
        char ch = (char)strtol(hex, NULL, 16);
        put(&out, &ch, 1);
        p += 4;
        break;
      }
      default: put(&out, &c, 1);
    }
  }
  if (out.len) write_all(fd, out.data, out.len);
  free(out.data);
}

int main(int argc, char **argv) {
  (void)argc;
  char namebuf[PATH_MAX];
  snprintf(namebuf, sizeof namebuf, "%s", argv[0]);
  const char *name = basename(namebuf);

  const char *path = getenv("WEFT_CNI_SOCKET");
  if (!path || !*path) path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) fallback(name, argv);
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fallback(name, argv);

  struct buf req = {0};
  char num[32];
  put(&req, "\0\0\0\0", 4); /* length, filled in below */
  puts_(&req, "{\"plugin\":");
  put_json_string(&req, name, strlen(name));
  snprintf(num, sizeof num, ",\"pid\":%d,\"env\":{", (int)getpid());
  puts_(&req, num);
  int first = 1;
  for (char **e = environ; *e; e++) {
    /* The protocol's variables only: the server has its own environment. */
    if (strncmp(*e, "CNI_", 4) != 0) continue;
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    if (!first) puts_(&req, ",");
    first = 0;
    put_json_string(&req, *e, (size_t)(eq - *e));
    puts_(&req, ":");
    put_json_string(&req, eq + 1, strlen(eq + 1));
  }
  puts_(&req, "},\"stdin\":");
  struct buf in = {0};
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("read stdin");
    if (r == 0) break;
    put(&in, chunk, (size_t)r);
  }
  put_json_string(&req, in.data ? in.data : "", in.len);
  puts_(&req, "}");
  uint32_t body = (uint32_t)(req.len - 4);
  req.data[0] = (char)(body >> 24);
  req.data[1] = (char)(body >> 16);
  req.data[2] = (char)(body >> 8);
  req.data[3] = (char)body;
  write_all(fd, req.data, req.len);

  unsigned char head[4];
  if (read_full(fd, (char *)head, 4) < 0) die("no answer from the weft CNI server");
  uint32_t len = ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) | ((uint32_t)head[2] << 8) | head[3];
  if (len > MAX_REPLY) die("oversized answer from the weft CNI server");
  char *reply = malloc(len + 1);
  if (!reply || read_full(fd, reply, len) < 0) die("short answer from the weft CNI server");
  reply[len] = '\0';

  write_json_string(1, find_key(reply, "stdout"));
  write_json_string(2, find_key(reply, "stderr"));
  const char *code = find_key(reply, "exitCode");
  return code ? atoi(code) : 1;
}
