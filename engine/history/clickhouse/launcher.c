/*
 * Runs chDB's embedded clickhouse-local as a server process.
 * Usage: launcher <path/to/libchdb.so> <watch-pid|0> <clickhouse-local args...>
 *
 * ClickHouse checks that it runs on a real thread stack, which Node's main thread and libuv pool
 * fail, so this process exists only to call chdb_query_cmdline from its own main thread.
 * The query it is given starts the HTTP listener and then blocks; when it returns the server is gone.
 * A non-zero watch-pid makes the server exit once that process has gone (a test run that was killed).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef void *(*query_cmdline_fn)(int, char **);
typedef const char *(*result_error_fn)(void *);

static pid_t watched;

static void *watch_owner(void *unused) {
  (void)unused;
  for (;;) {
    sleep(1);
    if (kill(watched, 0) != 0 && errno == ESRCH) _exit(0);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <libchdb.so> <watch-pid|0> <clickhouse-local args...>\n", argv[0]);
    return 2;
  }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "launcher: cannot load %s: %s\n", argv[1], dlerror());
    return 2;
  }
  query_cmdline_fn query = (query_cmdline_fn)dlsym(lib, "chdb_query_cmdline");
  result_error_fn result_error = (result_error_fn)dlsym(lib, "chdb_result_error");
  if (!query || !result_error) {
    fprintf(stderr, "launcher: %s does not export chdb_query_cmdline\n", argv[1]);
    return 2;
  }
  watched = (pid_t)atol(argv[2]);
  pthread_t watcher;
  if (watched > 0 && pthread_create(&watcher, NULL, watch_owner, NULL) != 0) {
    fprintf(stderr, "launcher: cannot start the owner watch thread\n");
    return 2;
  }
  /* clickhouse-local parses argv like main(): argv[0] is the program name. */
  argv[2] = "clickhouse";
  void *result = query(argc - 2, argv + 2);
  const char *error = result ? result_error(result) : "no result";
  fprintf(stderr, "launcher: clickhouse-local returned%s%s\n", error ? ": " : "", error ? error : "");
  fflush(stderr);
  /* Skip static destructors of the 500 MB library: the server has already shut down. */
  _exit(1);
}
