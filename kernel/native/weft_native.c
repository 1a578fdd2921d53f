/*
 * weft_native: the few Linux system calls Node.js does not expose.
 *
 * Everything here acts on the calling thread (the JavaScript main thread), which is exactly
 * what the kernel layer relies on: setns() moves only that thread into another network
 * namespace, so sockets it opens and processes it spawns synchronously belong to that
 * namespace, while libuv's worker threads stay where they were.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

/* Throws an Error whose code is the errno name-ish "E<num>" and whose message says what failed. */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[512];
  char code[32];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  snprintf(code, sizeof code, "ERRNO_%d", err);
  napi_value error, js_msg, js_code, js_errno;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code);
  napi_create_error(env, js_code, js_msg, &error);
  napi_create_int32(env, err, &js_errno);
  napi_set_named_property(env, error, "errno", js_errno);
  napi_throw(env, error);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return -1;
  }
  return 0;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an integer");
    return -1;
  }
  return 0;
}

static int get_path(napi_env env, napi_value v, char *buf, size_t len) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, len, &n) != napi_ok || n == 0 || n >= len - 1) {
    napi_throw_type_error(env, NULL, "expected a non-empty path");
    return -1;
  }
  return 0;
}

/* setns(fd, CLONE_NEWNET) for the calling thread. */
static napi_value js_setns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || get_int(env, argv[0], &fd)) return NULL;
  if (setns(fd, CLONE_NEWNET) != 0) return throw_errno(env, "setns", errno);
  return NULL;
}

/*
 * Creates a new network namespace and pins it at `path` with a bind mount (the file must
 * already exist), the way `ip netns add` does, then returns the calling thread to the
 * namespace it was in. The thread is back where it started also when a step fails.
 */
static napi_value js_create_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[4096];
  if (get_args(env, info, 1, argv) || get_path(env, argv[0], path, sizeof path)) return NULL;
  int origin = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (origin < 0) return throw_errno(env, "open current netns", errno);
  if (unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    close(origin);
    return throw_errno(env, "unshare(CLONE_NEWNET)", err);
  }
  int err = 0;
  const char *failed = NULL;
  if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) != 0) {
    err = errno;
    failed = "bind-mount new netns";
  }
  if (setns(origin, CLONE_NEWNET) != 0 && failed == NULL) {
    err = errno;
    failed = "setns back to the original netns";
  }
  close(origin);
  if (failed) return throw_errno(env, failed, err);
  return NULL;
}

/* Undoes the bind mount of a pinned namespace (lazily, as `ip netns del` does). */
static napi_value js_umount(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[4096];
  if (get_args(env, info, 1, argv) || get_path(env, argv[0], path, sizeof path)) return NULL;
  if (umount2(path, MNT_DETACH) != 0) return throw_errno(env, "umount", errno);
  return NULL;
}

/*
 * flock(fd, op): returns true when the lock was taken, false when `nonBlocking` was asked and
 * another process holds it. Same lock that the reference host-local plugin takes, so both
 * can share one data directory.
 */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  bool exclusive, non_blocking;
  if (get_args(env, info, 3, argv) || get_int(env, argv[0], &fd)) return NULL;
  napi_get_value_bool(env, argv[1], &exclusive);
  napi_get_value_bool(env, argv[2], &non_blocking);
  int op = (exclusive ? LOCK_EX : LOCK_SH) | (non_blocking ? LOCK_NB : 0);
  int rc;
  do {
    rc = flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  napi_value result;
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      napi_get_boolean(env, false, &result);
      return result;
    }
    return throw_errno(env, "flock", errno);
  }
  napi_get_boolean(env, true, &result);
  return result;
}

static napi_value js_funlock(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (get_args(env, info, 1, argv) || get_int(env, argv[0], &fd)) return NULL;
  if (flock(fd, LOCK_UN) != 0) return throw_errno(env, "flock(LOCK_UN)", errno);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setns", NULL, js_setns, NULL, NULL, NULL, napi_default, NULL},
      {"createNetns", NULL, js_create_netns, NULL, NULL, NULL, napi_default, NULL},
      {"umount", NULL, js_umount, NULL, NULL, NULL, napi_default, NULL},
      {"flock", NULL, js_flock, NULL, NULL, NULL, napi_default, NULL},
      {"funlock", NULL, js_funlock, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
