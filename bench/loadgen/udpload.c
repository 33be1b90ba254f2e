/*
 * udpload: a UDP load generator for the Handle wire protocol (RFC 3652), port 2641.
 *
 * Sends RESOLUTION requests for handles read from a file (one per line) to HOST:PORT,
 * either at a fixed offered rate (open loop: requests leave on schedule whatever the
 * server does, so a slow server cannot slow the offered load down and hide its queueing)
 * or unlimited (closed loop: each thread keeps WINDOW requests in flight, which finds
 * the server's saturation throughput). Responses are matched to requests by the
 * envelope's request id; latency runs from the moment a request left to the moment its
 * answer was read. In open loop the generator also reports how late its own sends were
 * against the schedule (send_lag), so its wake-up jitter is visible instead of being
 * mistaken for server latency. At the end it prints one JSON line: sent, received,
 * lost, QPS and latency percentiles in microseconds.
 *
 * Each thread owns one connected UDP socket and moves packets with sendmmsg/recvmmsg,
 * waiting in ppoll with a nanosecond timeout when idle.
 *
 * Build: gcc -O2 -Wall -pthread -o udpload udpload.c (with loadgen.h beside it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"

#define BATCH 64
#define RING 65536 /* in-flight slots per thread; a power of two */
#define RING_MASK (RING - 1)
#define RECV_BUF 2048

typedef struct {
    int id;
    int fd;
    /* configuration */
    double rate;     /* requests per second for this thread; 0 = closed loop */
    int window;      /* closed loop: requests in flight */
    int spin;        /* never sleep: poll the socket in a busy loop */
    uint64_t start_ns, end_ns, drain_ns, timeout_ns;
    size_t next_handle;
    /* state */
    uint64_t *sent_at;  /* per slot: send (or scheduled) time, 0 when free */
    uint32_t *slot_id;  /* per slot: the request id that occupies it */
    uint32_t next_seq, oldest_seq;
    uint32_t in_flight;
    /* results */
    uint64_t sent, received, lost, errors, unmatched, skipped;
    uint64_t max_ns, max_lag_ns;
    uint32_t *hist, *lag;
    unsigned char *send_bufs; /* BATCH * REQ_MAX */
    unsigned char *recv_bufs; /* BATCH * RECV_BUF */
} worker_t;

static int open_socket(void) {
    int fd = socket(server_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (connect(fd, (struct sockaddr *)&server_addr, server_len) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static void record(worker_t *w, uint64_t latency_ns) {
    w->hist[bucket(latency_ns)]++;
    if (latency_ns > w->max_ns) w->max_ns = latency_ns;
}

/* Retire the oldest slots that were answered, or that timed out (counted lost). */
static void expire(worker_t *w, uint64_t now) {
    while (w->oldest_seq != w->next_seq) {
        uint32_t slot = w->oldest_seq & RING_MASK;
        if (w->sent_at[slot] != 0) {
            if (now < w->sent_at[slot] + w->timeout_ns) break;
            w->sent_at[slot] = 0;
            w->lost++;
            w->in_flight--;
        }
        w->oldest_seq++;
    }
}

static void receive(worker_t *w) {
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i].iov_base = w->recv_bufs + (size_t)i * RECV_BUF;
            iov[i].iov_len = RECV_BUF;
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(w->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) return;
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_len < 20) {
                w->unmatched++;
                continue;
            }
            const unsigned char *buf = w->recv_bufs + (size_t)i * RECV_BUF;
            uint32_t rid = get32(buf + 8);
            uint32_t slot = rid & RING_MASK;
            if (w->slot_id[slot] != rid || w->sent_at[slot] == 0) {
                w->unmatched++; /* late (already counted lost), duplicate or foreign */
                continue;
            }
            record(w, now - w->sent_at[slot]);
            w->sent_at[slot] = 0;
            w->in_flight--;
            w->received++;
            if (msgs[i].msg_len < 28 || get32(buf + 24) != 1) w->errors++; /* rc != SUCCESS */
        }
        if (n < BATCH) return;
    }
}

/* Send up to `count` requests and return how many left. In open loop, `scheduled` is
 * the planned time of the first; how late each one left is recorded as send lag. */
static int send_batch(worker_t *w, int count, uint64_t scheduled, double interval_ns) {
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    if (count > BATCH) count = BATCH;
    uint32_t first_seq = w->next_seq;
    int n = 0;
    for (; n < count; n++) {
        if (w->next_seq - w->oldest_seq >= RING) break; /* every slot still in flight */
        request_t *r = &requests[(w->next_handle + (size_t)n) % n_requests];
        unsigned char *buf = w->send_bufs + (size_t)n * REQ_MAX;
        memcpy(buf, r->bytes, r->len);
        put32(buf + 8, ((uint32_t)(w->id + 1) << 24) | (w->next_seq++ & 0xFFFFFF));
        iov[n].iov_base = buf;
        iov[n].iov_len = r->len;
        memset(&msgs[n].msg_hdr, 0, sizeof msgs[n].msg_hdr);
        msgs[n].msg_hdr.msg_iov = &iov[n];
        msgs[n].msg_hdr.msg_iovlen = 1;
    }
    if (n == 0) return 0;
    uint64_t now = now_ns();
    int done = sendmmsg(w->fd, msgs, (unsigned)n, 0);
    if (done < 0) done = 0; /* EAGAIN: the socket buffer is full; try again later */
    w->next_seq = first_seq + (uint32_t)done; /* unsent ones give their slots back */
    w->next_handle = (w->next_handle + (size_t)done) % n_requests;
    for (int i = 0; i < done; i++) {
        uint32_t seq = first_seq + (uint32_t)i;
        uint32_t slot = seq & RING_MASK;
        if (scheduled) {
            uint64_t planned = scheduled + (uint64_t)(i * interval_ns);
            uint64_t lag = now > planned ? now - planned : 0;
            w->lag[bucket(lag)]++;
            if (lag > w->max_lag_ns) w->max_lag_ns = lag;
        }
        w->slot_id[slot] = ((uint32_t)(w->id + 1) << 24) | (seq & 0xFFFFFF);
        w->sent_at[slot] = now | 1; /* never 0, which means free */
        w->in_flight++;
    }
    w->sent += (uint64_t)done;
    return done;
}

static void wait_readable(worker_t *w, uint64_t wait_ns) {
    struct pollfd pfd = {.fd = w->fd, .events = POLLIN};
    struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000ull),
                          .tv_nsec = (long)(wait_ns % 1000000000ull)};
    ppoll(&pfd, 1, &ts, NULL);
}

static void *run(void *arg) {
    worker_t *w = arg;
    double interval = w->rate > 0 ? 1e9 / w->rate : 0;
    uint64_t planned = 0; /* open loop: requests scheduled so far */
    for (;;) {
        uint64_t now = now_ns();
        if (now >= w->end_ns) break;
        int progress = 0;
        if (w->rate > 0) {
            uint64_t due = (uint64_t)((double)(now - w->start_ns) / interval) + 1;
            if (due - planned > BATCH && (double)(due - planned) * interval > 1e6) {
                /* More than 1 ms behind (in-flight table full, or no CPU): drop the backlog
                 * rather than burst it out and overflow the server's buffers. */
                w->skipped += due - 1 - planned;
                planned = due - 1;
            }
            if (due > planned) {
                int count = due - planned > BATCH ? BATCH : (int)(due - planned);
                uint64_t first = w->start_ns + (uint64_t)((double)planned * interval);
                planned += (uint64_t)send_batch(w, count, first, interval);
                progress = 1;
            }
        } else if (w->in_flight < (uint32_t)w->window) {
            send_batch(w, w->window - (int)w->in_flight, 0, 0);
            progress = 1;
        }
        uint64_t before = w->received;
        receive(w);
        expire(w, now);
        if (w->received != before) progress = 1;
        if (!progress && !w->spin) {
            uint64_t wait = 1000000; /* at most 1 ms, to notice timeouts and the end */
            if (w->rate > 0) {
                uint64_t next = w->start_ns + (uint64_t)((double)planned * interval);
                uint64_t t = now_ns();
                wait = next > t ? next - t : 0;
                if (wait > 1000000) wait = 1000000;
            }
            if (wait > 0) wait_readable(w, wait);
        }
    }
    /* drain: no more sends, collect answers for up to the timeout */
    while (w->in_flight > 0) {
        uint64_t now = now_ns();
        if (now >= w->drain_ns) break;
        receive(w);
        expire(w, now);
        if (w->in_flight > 0) wait_readable(w, 1000000);
    }
    w->lost += w->in_flight;
    w->in_flight = 0;
    return NULL;
}

static void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s [-f handles.txt] [-r rate/s, 0 = unlimited] [-d seconds] [-t threads]\n"
            "          [-w window per thread when unlimited] [-T timeout ms] [-s] HOST:PORT\n"
            "  -s  spin: poll without sleeping (lower latency, one busy core per thread)\n",
            prog);
    exit(2);
}

int main(int argc, char **argv) {
    const char *file = "handles.txt";
    double rate = 0, duration = 5;
    int threads = 1, window = 128, timeout_ms = 1000, spin = 0, opt;
    while ((opt = getopt(argc, argv, "f:r:d:t:w:T:s")) != -1) {
        switch (opt) {
        case 's': spin = 1; break;
        case 'f': file = optarg; break;
        case 'r': rate = atof(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'T': timeout_ms = atoi(optarg); break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc - 1 || threads < 1 || threads > 120 || window < 1 || window > RING / 2 ||
        duration <= 0 || rate < 0 || timeout_ms < 1)
        usage(argv[0]);
    resolve_server(argv[optind], SOCK_DGRAM);
    load_handles(file);

    worker_t *workers = calloc((size_t)threads, sizeof *workers);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    uint64_t start = now_ns() + 10000000; /* 10 ms for the threads to start */
    for (int i = 0; i < threads; i++) {
        worker_t *w = &workers[i];
        w->id = i;
        w->fd = open_socket();
        w->rate = rate / threads;
        w->window = window;
        w->spin = spin;
        w->start_ns = start;
        w->end_ns = start + (uint64_t)(duration * 1e9);
        w->timeout_ns = (uint64_t)timeout_ms * 1000000ull;
        w->drain_ns = w->end_ns + w->timeout_ns;
        w->next_handle = (n_requests * (size_t)i) / (size_t)threads;
        w->sent_at = calloc(RING, sizeof *w->sent_at);
        w->slot_id = calloc(RING, sizeof *w->slot_id);
        w->hist = calloc(HIST_BUCKETS, sizeof *w->hist);
        w->lag = calloc(HIST_BUCKETS, sizeof *w->lag);
        w->send_bufs = malloc((size_t)BATCH * REQ_MAX);
        w->recv_bufs = malloc((size_t)BATCH * RECV_BUF);
        if (!w->sent_at || !w->slot_id || !w->hist || !w->lag || !w->send_bufs || !w->recv_bufs) {
            perror("calloc");
            return 1;
        }
    }
    while (now_ns() < start) usleep(100);
    for (int i = 0; i < threads; i++) pthread_create(&tids[i], NULL, run, &workers[i]);

    uint64_t sent = 0, received = 0, lost = 0, errors = 0, unmatched = 0, skipped = 0, max_ns = 0;
    uint64_t max_lag_ns = 0;
    uint64_t *hist = calloc(HIST_BUCKETS, sizeof *hist), *lag = calloc(HIST_BUCKETS, sizeof *lag);
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        worker_t *w = &workers[i];
        sent += w->sent;
        received += w->received;
        lost += w->lost;
        errors += w->errors;
        unmatched += w->unmatched;
        skipped += w->skipped;
        if (w->max_ns > max_ns) max_ns = w->max_ns;
        if (w->max_lag_ns > max_lag_ns) max_lag_ns = w->max_lag_ns;
        for (size_t b = 0; b < HIST_BUCKETS; b++) {
            hist[b] += w->hist[b];
            lag[b] += w->lag[b];
        }
        close(w->fd);
    }
    uint64_t max_us = max_ns / 1000, max_lag_us = max_lag_ns / 1000;
    printf("{\"server\": \"%s\", \"mode\": \"%s\", \"offered_rate\": %.0f, \"threads\": %d, "
           "\"window\": %d, \"duration_s\": %.3f, \"handles\": %zu, \"sent\": %llu, "
           "\"received\": %llu, \"lost\": %llu, \"errors\": %llu, \"unmatched\": %llu, "
           "\"skipped\": %llu, \"qps\": %.0f, \"p50_us\": %llu, \"p90_us\": %llu, \"p99_us\": %llu, "
           "\"p999_us\": %llu, \"max_us\": %llu, \"send_lag_p99_us\": %llu, "
           "\"send_lag_max_us\": %llu}\n",
           argv[optind], rate > 0 ? "rate" : "saturate", rate, threads, rate > 0 ? 0 : window,
           duration, n_requests, (unsigned long long)sent, (unsigned long long)received,
           (unsigned long long)lost, (unsigned long long)errors, (unsigned long long)unmatched,
           (unsigned long long)skipped, (double)received / duration, (unsigned long long)percentile(hist, 0.50, max_us),
           (unsigned long long)percentile(hist, 0.90, max_us),
           (unsigned long long)percentile(hist, 0.99, max_us),
           (unsigned long long)percentile(hist, 0.999, max_us), (unsigned long long)max_us,
           (unsigned long long)percentile(lag, 0.99, max_lag_us), (unsigned long long)max_lag_us);
    return 0;
}
