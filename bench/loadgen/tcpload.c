/*
 * tcpload: a TCP load generator for the Handle wire protocol (RFC 3652), port 2641.
 *
 * The TCP twin of udpload: the same RESOLUTION requests for handles read from a file, sent
 * over persistent connections (opened once, before the clock starts, never reopened). Each
 * thread owns CONNS connections and waits on them in ppoll.
 *
 * - Closed loop (-r 0): every connection keeps DEPTH requests in flight (-p; 1 is plain
 *   request/response, more is pipelining). This finds the server's saturation throughput.
 * - Open loop (-r RATE): requests leave on schedule, spread over the connections in turn,
 *   whatever the server does, so its queueing shows as latency instead of a slower offer.
 *
 * A Handle server answers a connection's requests in the order they came (RFC 3652 §3 does
 * not allow another order on one stream), so an answer is matched to the oldest request in
 * flight on its connection, and its request id is checked against that one's. Latency runs
 * from the moment a request was handed to the socket to the moment its whole answer was
 * read. TCP loses nothing, so there is no per-request timeout: what is still unanswered
 * after the drain (at most TIMEOUT ms past the end) counts as lost, and a connection the
 * server closes or resets is counted in `closed`. At the end it prints one JSON line.
 *
 * Build: gcc -O2 -Wall -pthread -o tcpload tcpload.c (with loadgen.h beside it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "loadgen.h"

#define MAX_CONNS 1024 /* per thread */
#define MAX_DEPTH 256  /* requests in flight per connection */
#define IN_BUF 65536   /* an answer larger than this is refused as an error */

typedef struct {
    int fd;
    int open;
    uint32_t head, tail;          /* FIFO of requests in flight: [head, tail) */
    uint64_t sent_at[MAX_DEPTH];  /* when each left */
    uint32_t rid[MAX_DEPTH];      /* and its request id */
    unsigned char *out;           /* bytes not yet accepted by the socket */
    size_t out_len, out_cap;
    unsigned char *in;            /* bytes of answers not yet complete */
    size_t in_len;
} conn_t;

typedef struct {
    int id, n_conns, depth;
    double rate; /* requests per second for this thread; 0 = closed loop */
    uint64_t start_ns, end_ns, drain_ns;
    size_t next_handle;
    uint32_t next_rid;
    conn_t *conns;
    struct pollfd *pfds;
    uint64_t sent, received, errors, mismatched, closed, skipped, max_ns;
    uint32_t *hist;
} worker_t;

static int open_conn(void) {
    int fd = socket(server_addr.ss_family, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    if (connect(fd, (struct sockaddr *)&server_addr, server_len) < 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        perror("nonblock");
        exit(1);
    }
    return fd;
}

static uint32_t in_flight(const conn_t *c) { return c->tail - c->head; }

/* Queue one request on a connection and try to write what is pending. */
static void offer(worker_t *w, conn_t *c, uint64_t now) {
    request_t *r = &requests[w->next_handle];
    w->next_handle = (w->next_handle + 1) % n_requests;
    if (c->out_len + r->len > c->out_cap) {
        c->out_cap = (c->out_len + r->len) * 2;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) {
            perror("realloc");
            exit(1);
        }
    }
    unsigned char *p = c->out + c->out_len;
    memcpy(p, r->bytes, r->len);
    uint32_t rid = ((uint32_t)(w->id + 1) << 24) | (w->next_rid++ & 0xFFFFFF);
    put32(p + 8, rid);
    c->out_len += r->len;
    uint32_t slot = c->tail++ % MAX_DEPTH;
    c->sent_at[slot] = now;
    c->rid[slot] = rid;
    w->sent++;
}

static void close_conn(worker_t *w, conn_t *c) {
    if (!c->open) return;
    close(c->fd);
    c->open = 0;
    w->closed++;
    c->head = c->tail; /* what it still had in flight is lost (counted at the end) */
}

static void flush_out(worker_t *w, conn_t *c) {
    while (c->open && c->out_len > 0) {
        ssize_t n = write(c->fd, c->out, c->out_len);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            close_conn(w, c);
            return;
        }
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
}

/* Read what arrived and retire every complete answer. */
static void take_answers(worker_t *w, conn_t *c) {
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, IN_BUF - c->in_len);
        if (n == 0) {
            close_conn(w, c);
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(w, c);
            return;
        }
        c->in_len += (size_t)n;
        uint64_t now = now_ns();
        size_t at = 0;
        while (c->in_len - at >= 20) {
            const unsigned char *m = c->in + at;
            size_t whole = 20 + (size_t)get32(m + 16);
            if (whole > IN_BUF) { /* not a Handle answer we can hold: give the stream up */
                w->errors++;
                close_conn(w, c);
                return;
            }
            if (c->in_len - at < whole) break;
            if (in_flight(c) == 0) {
                w->mismatched++; /* an answer nobody asked for */
            } else {
                uint32_t slot = c->head++ % MAX_DEPTH;
                if (get32(m + 8) != c->rid[slot]) w->mismatched++;
                uint64_t took = now - c->sent_at[slot];
                w->hist[bucket(took)]++;
                if (took > w->max_ns) w->max_ns = took;
                w->received++;
                if (whole < 28 || get32(m + 24) != 1) w->errors++; /* rc != SUCCESS */
            }
            at += whole;
        }
        memmove(c->in, c->in + at, c->in_len - at);
        c->in_len -= at;
        if ((size_t)n < IN_BUF / 2) return; /* the socket is most likely empty now */
    }
}

static uint64_t total_in_flight(const worker_t *w) {
    uint64_t n = 0;
    for (int i = 0; i < w->n_conns; i++)
        if (w->conns[i].open) n += in_flight(&w->conns[i]);
    return n;
}

static void *run(void *arg) {
    worker_t *w = arg;
    double interval = w->rate > 0 ? 1e9 / w->rate : 0;
    uint64_t planned = 0;
    int next_conn = 0;
    while (now_ns() < w->start_ns) usleep(50);
    for (;;) {
        uint64_t now = now_ns();
        int sending = now < w->end_ns;
        if (!sending && (total_in_flight(w) == 0 || now >= w->drain_ns)) break;
        if (sending && w->rate > 0) {
            uint64_t due = (uint64_t)((double)(now - w->start_ns) / interval) + 1;
            if (due - planned > 64 && (double)(due - planned) * interval > 1e6) {
                /* More than 1 ms behind (no CPU): drop the backlog, as udpload does,
                 * rather than burst it out and measure the burst. */
                w->skipped += due - 1 - planned;
                planned = due - 1;
            }
            for (; planned < due; planned++) {
                conn_t *c = NULL;
                for (int k = 0; k < w->n_conns && !c; k++) {
                    conn_t *cand = &w->conns[(next_conn + k) % w->n_conns];
                    if (cand->open && in_flight(cand) < MAX_DEPTH) c = cand;
                }
                next_conn = (next_conn + 1) % w->n_conns;
                if (!c) {
                    w->skipped++; /* every connection has MAX_DEPTH in flight */
                    continue;
                }
                offer(w, c, now);
            }
        } else if (sending) {
            for (int i = 0; i < w->n_conns; i++) {
                conn_t *c = &w->conns[i];
                while (c->open && in_flight(c) < (uint32_t)w->depth) offer(w, c, now);
            }
        }
        for (int i = 0; i < w->n_conns; i++) {
            conn_t *c = &w->conns[i];
            if (c->out_len) flush_out(w, c);
            w->pfds[i].fd = c->open ? c->fd : -1;
            w->pfds[i].events = (short)(POLLIN | (c->out_len ? POLLOUT : 0));
            w->pfds[i].revents = 0;
        }
        uint64_t wait = 1000000; /* at most 1 ms, to notice the schedule and the end */
        if (sending && w->rate > 0) {
            uint64_t next = w->start_ns + (uint64_t)((double)planned * interval);
            uint64_t t = now_ns();
            wait = next > t ? next - t : 0;
            if (wait > 1000000) wait = 1000000;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait};
        int ready = ppoll(w->pfds, (nfds_t)w->n_conns, &ts, NULL);
        if (ready <= 0) continue;
        for (int i = 0; i < w->n_conns; i++) {
            short ev = w->pfds[i].revents;
            if (!ev) continue;
            if (ev & (POLLIN | POLLERR | POLLHUP)) take_answers(w, &w->conns[i]);
            if (ev & POLLOUT) flush_out(w, &w->conns[i]);
        }
    }
    return NULL;
}

static void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s [-f handles.txt] [-r rate/s, 0 = unlimited] [-d seconds] [-t threads]\n"
            "          [-c connections per thread] [-p requests in flight per connection]\n"
            "          [-T drain timeout ms] HOST:PORT\n",
            prog);
    exit(2);
}

int main(int argc, char **argv) {
    const char *file = "handles.txt";
    double rate = 0, duration = 5;
    int threads = 1, conns = 16, depth = 1, timeout_ms = 1000, opt;
    while ((opt = getopt(argc, argv, "f:r:d:t:c:p:T:")) != -1) {
        switch (opt) {
        case 'f': file = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'p': depth = atoi(optarg); break;
        case 'T': timeout_ms = atoi(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc - 1 || threads < 1 || threads > 120 || conns < 1 || conns > MAX_CONNS ||
        depth < 1 || depth > MAX_DEPTH || duration <= 0 || rate < 0 || timeout_ms < 1)
        usage(argv[0]);
    resolve_server(argv[optind], SOCK_STREAM);
    load_handles(file);

    worker_t *workers = calloc((size_t)threads, sizeof *workers);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    for (int i = 0; i < threads; i++) {
        worker_t *w = &workers[i];
        w->id = i;
        w->n_conns = conns;
        w->depth = depth;
        w->rate = rate / threads;
        w->next_handle = (n_requests * (size_t)i) / (size_t)threads;
        w->conns = calloc((size_t)conns, sizeof *w->conns);
        w->pfds = calloc((size_t)conns, sizeof *w->pfds);
        w->hist = calloc(HIST_BUCKETS, sizeof *w->hist);
        if (!w->conns || !w->pfds || !w->hist) {
            perror("calloc");
            return 1;
        }
        for (int k = 0; k < conns; k++) {
            conn_t *c = &w->conns[k];
            c->fd = open_conn();
            c->open = 1;
            c->in = malloc(IN_BUF);
            if (!c->in) {
                perror("malloc");
                return 1;
            }
        }
    }
    uint64_t start = now_ns() + 10000000; /* 10 ms for the threads to start */
    for (int i = 0; i < threads; i++) {
        worker_t *w = &workers[i];
        w->start_ns = start;
        w->end_ns = start + (uint64_t)(duration * 1e9);
        w->drain_ns = w->end_ns + (uint64_t)timeout_ms * 1000000ull;
        pthread_create(&tids[i], NULL, run, w);
    }

    uint64_t sent = 0, received = 0, errors = 0, mismatched = 0, closed = 0, skipped = 0;
    uint64_t max_ns = 0, lost = 0;
    uint64_t *hist = calloc(HIST_BUCKETS, sizeof *hist);
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        worker_t *w = &workers[i];
        sent += w->sent;
        received += w->received;
        errors += w->errors;
        mismatched += w->mismatched;
        closed += w->closed;
        skipped += w->skipped;
        if (w->max_ns > max_ns) max_ns = w->max_ns;
        for (size_t b = 0; b < HIST_BUCKETS; b++) hist[b] += w->hist[b];
        for (int k = 0; k < w->n_conns; k++)
            if (w->conns[k].open) close(w->conns[k].fd);
    }
    lost = sent > received ? sent - received : 0;
    uint64_t max_us = max_ns / 1000;
    printf("{\"server\": \"%s\", \"mode\": \"%s\", \"offered_rate\": %.0f, \"threads\": %d, "
           "\"connections\": %d, \"depth\": %d, \"duration_s\": %.3f, \"handles\": %zu, "
           "\"sent\": %llu, \"received\": %llu, \"lost\": %llu, \"errors\": %llu, "
           "\"mismatched\": %llu, \"closed\": %llu, \"skipped\": %llu, \"qps\": %.0f, "
           "\"p50_us\": %llu, \"p90_us\": %llu, \"p99_us\": %llu, \"p999_us\": %llu, "
           "\"max_us\": %llu}\n",
           argv[optind], rate > 0 ? "rate" : "saturate", rate, threads, threads * conns,
           rate > 0 ? 0 : depth, duration, n_requests, (unsigned long long)sent,
           (unsigned long long)received, (unsigned long long)lost, (unsigned long long)errors,
           (unsigned long long)mismatched, (unsigned long long)closed,
           (unsigned long long)skipped, (double)received / duration,
           (unsigned long long)percentile(hist, 0.50, max_us),
           (unsigned long long)percentile(hist, 0.90, max_us),
           (unsigned long long)percentile(hist, 0.99, max_us),
           (unsigned long long)percentile(hist, 0.999, max_us), (unsigned long long)max_us);
    return 0;
}
