/* http/peers: connections counted by client address, the limit, and
 * removal that keeps every other address reachable. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "http/peers.h"

static void addr_of(int n, unsigned char out[PEERS_ADDR_LEN])
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    in.sin_addr.s_addr = htonl(0x0a000000u + (unsigned)n);
    peers_addr((struct sockaddr *)&in, out);
}

static void test_v4_and_mapped_v6_are_one_client(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    unsigned char a[PEERS_ADDR_LEN], b[PEERS_ADDR_LEN];
    inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &in6.sin6_addr);
    peers_addr((struct sockaddr *)&in, a);
    peers_addr((struct sockaddr *)&in6, b);
    CHECK(memcmp(a, b, PEERS_ADDR_LEN) == 0);
}

static void test_limit_per_address(void)
{
    peers_t *p;
    unsigned char a[PEERS_ADDR_LEN], b[PEERS_ADDR_LEN];
    CHECK_EQ_INT(peers_new(64, &p), ENT_OK);
    addr_of(1, a);
    addr_of(2, b);
    for (int i = 0; i < 3; i++)
        CHECK(peers_add(p, a, 3));
    CHECK(!peers_add(p, a, 3));
    CHECK(peers_add(p, b, 3));
    CHECK_EQ_INT(peers_count(p, a), 3);
    peers_del(p, a);
    CHECK(peers_add(p, a, 3));
    CHECK(peers_add(p, a, 0)); /* no limit */
    CHECK_EQ_INT(peers_count(p, a), 4);
    peers_free(p);
}

/* Many addresses in a small table (long probe runs that wrap around),
 * removed in another order: the counts of the others stay right. */
static void test_removal_keeps_the_others(void)
{
    enum { N = 200 };
    peers_t *p;
    unsigned char a[PEERS_ADDR_LEN];
    CHECK_EQ_INT(peers_new(N, &p), ENT_OK);
    for (int i = 0; i < N; i++) {
        addr_of(i, a);
        for (int k = 0; k <= i % 3; k++)
            CHECK(peers_add(p, a, 0));
    }
    for (int i = 0; i < N; i += 2) {
        addr_of(i, a);
        for (int k = 0; k <= i % 3; k++)
            peers_del(p, a);
    }
    for (int i = 0; i < N; i++) {
        addr_of(i, a);
        CHECK_EQ_INT(peers_count(p, a), i % 2 ? i % 3 + 1 : 0);
    }
    peers_free(p);
}

void register_peers_tests(void)
{
    CU_pSuite s = CU_add_suite("http_peers", NULL, NULL);
    CU_add_test(s, "IPv4 and its mapped IPv6 form are one client", test_v4_and_mapped_v6_are_one_client);
    CU_add_test(s, "the limit per address", test_limit_per_address);
    CU_add_test(s, "removal keeps the other addresses", test_removal_keeps_the_others);
}
