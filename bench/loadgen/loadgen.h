/*
 * What udpload.c and tcpload.c share: the request bytes, the handles file, the
 * server address and the latency histogram.
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define FINE_US 100000 /* 1 µs buckets up to 100 ms ... */
#define COARSE_US 100  /* ... then 100 µs buckets ... */
#define HIST_BUCKETS (FINE_US + 99000 + 1) /* ... up to 10 s, then one overflow bucket */
#define MAX_HANDLE 2048
#define REQ_MAX (20 + 24 + 4 + MAX_HANDLE + 8 + 4)

typedef struct {
    unsigned char *bytes;
    size_t len;
} request_t;

static request_t *requests;
static size_t n_requests;
static struct sockaddr_storage server_addr;
static socklen_t server_len;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Envelope (20) + header (24) + body (handle, empty index list, empty type list) +
 * empty credential: the same bytes resolver.wire.codec.encode_request produces. */
static request_t build_request(const char *handle, size_t hlen, uint32_t expiration) {
    request_t r;
    size_t body = 4 + hlen + 4 + 4;
    size_t message = 24 + body + 4;
    r.len = 20 + message;
    r.bytes = calloc(1, r.len);
    if (!r.bytes) {
        perror("calloc");
        exit(1);
    }
    unsigned char *p = r.bytes;
    p[0] = 2;  /* major */
    p[1] = 10; /* minor */
    p[2] = 2;  /* flags 0 | suggested major */
    p[3] = 10; /* suggested minor */
    /* session id 0, request id patched per send, sequence 0 */
    put32(p + 16, (uint32_t)message);
    put32(p + 20, 1);          /* opcode RESOLUTION */
    put32(p + 28, 0x19000000); /* RECU | CACR | PUBL */
    p[32] = 0xff;              /* site-info serial unknown */
    p[33] = 0xff;
    put32(p + 36, expiration);
    put32(p + 40, (uint32_t)body);
    put32(p + 44, (uint32_t)hlen);
    memcpy(p + 48, handle, hlen);
    return r;
}

static void load_handles(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 1024;
    requests = malloc(cap * sizeof *requests);
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    uint32_t expiration = (uint32_t)time(NULL) + 43200;
    while ((len = getline(&line, &linecap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        if (len > MAX_HANDLE) {
            fprintf(stderr, "skipping a handle longer than %d bytes\n", MAX_HANDLE);
            continue;
        }
        if (n_requests == cap) {
            cap *= 2;
            requests = realloc(requests, cap * sizeof *requests);
        }
        if (!requests) {
            perror("realloc");
            exit(1);
        }
        requests[n_requests++] = build_request(line, (size_t)len, expiration);
    }
    free(line);
    fclose(f);
    if (n_requests == 0) {
        fprintf(stderr, "%s: no handles\n", path);
        exit(2);
    }
}

static void resolve_server(const char *target, int socktype) {
    char host[256];
    const char *colon = strrchr(target, ':');
    if (!colon || colon == target || (size_t)(colon - target) >= sizeof host) {
        fprintf(stderr, "server must be HOST:PORT (IPv6 as [::1]:2641), got %s\n", target);
        exit(2);
    }
    size_t hlen = (size_t)(colon - target);
    memcpy(host, target, hlen);
    host[hlen] = 0;
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = 0;
    }
    struct addrinfo hints = {0}, *res;
    hints.ai_socktype = socktype;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", target, gai_strerror(rc));
        exit(2);
    }
    memcpy(&server_addr, res->ai_addr, res->ai_addrlen);
    server_len = res->ai_addrlen;
    freeaddrinfo(res);
}

static size_t bucket(uint64_t ns) {
    uint64_t us = ns / 1000;
    if (us < FINE_US) return (size_t)us;
    uint64_t b = FINE_US + (us - FINE_US) / COARSE_US;
    return b < HIST_BUCKETS - 1 ? (size_t)b : HIST_BUCKETS - 1;
}

static uint64_t bucket_us(size_t b) {
    return b < FINE_US ? b : FINE_US + (uint64_t)(b - FINE_US) * COARSE_US;
}

static uint64_t percentile(const uint64_t *hist, double q, uint64_t max_us) {
    uint64_t total = 0;
    for (size_t b = 0; b < HIST_BUCKETS; b++) total += hist[b];
    if (total == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < HIST_BUCKETS; b++) {
        seen += hist[b];
        if (seen > rank) {
            uint64_t us = bucket_us(b);
            return b < HIST_BUCKETS - 1 && us < max_us ? us : max_us;
        }
    }
    return max_us;
}

#endif
