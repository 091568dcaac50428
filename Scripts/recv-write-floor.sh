#!/usr/bin/env bash
# What a node's buffered put path costs at the least (issue 15 item 2, docs/PERFORMANCE.md): a C receiver that reads
# MIB MiB from a loopback TCP socket into a 1 MiB buffer and pwrites each MiB into a file (the two kernel copies every
# stored byte takes with buffered I/O), then fdatasyncs it; optionally also opens each MiB with AES-256-GCM in place
# (OpenSSL EVP, the TLS decryption's work) and copies it once more (a user-space copy, as the frame decoder's). The
# sender is another process, not counted. Prints the receiver's CPU (getrusage: user + system) per byte, for each of
# the modes, RUNS times.
#
#   Scripts/recv-write-floor.sh [MIB=512] [RUNS=3] [DIR=a temporary folder under TMPDIR]
set -euo pipefail
MIB=${1:-512}; RUNS=${2:-3}
WORK=$(mktemp -d "${3:-${TMPDIR:-/tmp}}/edfs-floor.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cat > "$WORK/floor.c" <<'EOF'
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#define CHUNK (1 << 20)
int main(int argc, char **argv) {
  long mib = atol(argv[1]); const char *path = argv[2]; int aes = atoi(argv[3]), copy = atoi(argv[4]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t al = sizeof a;
  if (bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &al)) { perror("listen"); return 1; }
  pid_t child = fork();
  if (child == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (void *)&a, sizeof a)) { perror("connect"); _exit(1); }
    char *b = malloc(CHUNK); memset(b, 0x5a, CHUNK);
    for (long i = 0; i < mib; i++) for (size_t d = 0; d < CHUNK;) { ssize_t n = send(s, b + d, CHUNK - d, 0); if (n <= 0) _exit(1); d += n; }
    close(s); _exit(0);
  }
  int c = accept(l, NULL, NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  char *b = malloc(CHUNK), *b2 = malloc(CHUNK), tag[16] = {0}; memset(b, 1, CHUNK); memset(b2, 1, CHUNK);
  unsigned char key[32] = {1}, iv[12] = {2};
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  struct rusage r0, r1; getrusage(RUSAGE_SELF, &r0);
  for (long i = 0; i < mib; i++) {
    for (size_t d = 0; d < CHUNK;) { ssize_t n = recv(c, b + d, CHUNK - d, 0); if (n <= 0) { perror("recv"); return 1; } d += n; }
    if (aes) {  /* the TLS records' opening, in place (the tag check fails on these bytes; the work is the same) */
      int out;
      EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv);
      EVP_DecryptUpdate(ctx, (unsigned char *)b, &out, (unsigned char *)b, CHUNK);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag);
      EVP_DecryptFinal_ex(ctx, (unsigned char *)b + out, &out);
    }
    char *w = b;
    if (copy) { memcpy(b2, b, CHUNK); w = b2; }
    for (size_t d = 0; d < CHUNK;) { ssize_t n = pwrite(fd, w + d, CHUNK - d, i * (off_t)CHUNK + d); if (n <= 0) { perror("pwrite"); return 1; } d += n; }
  }
  fdatasync(fd);
  getrusage(RUSAGE_SELF, &r1);
  double s = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6;
  double k = (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
  printf("%-22s user %.3f s sys %.3f s: %.3f ns per byte\n", aes ? (copy ? "recv+AES-GCM+copy+pwrite" : "recv+AES-GCM+pwrite") : "recv+pwrite",
         s, k, (s + k) * 1e9 / ((double)mib * CHUNK));
  waitpid(child, NULL, 0); unlink(path); return 0;
}
EOF
cc -O2 -o "$WORK/floor" "$WORK/floor.c" -lcrypto
echo "recv-write-floor: $MIB MiB per run, load $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  "$WORK/floor" "$MIB" "$WORK/out.bin" 0 0
  "$WORK/floor" "$MIB" "$WORK/out.bin" 1 0
  "$WORK/floor" "$MIB" "$WORK/out.bin" 1 1
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
