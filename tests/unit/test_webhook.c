/* subs/webhook: which addresses a webhook may reach under each setting. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "subs/webhook.h"

/* The classes of addr (IPv4 or IPv6 text) as "pra": one letter per reach
 * (public, private, any), 'y' where it is allowed, '-' where not. */
static const char *reaches(const char *addr)
{
    static char out[4];
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1)
        v4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1)
        v6->sin6_family = AF_INET6;
    else
        return "bad";
    const webhook_reach_t r[3] = {WEBHOOK_REACH_PUBLIC, WEBHOOK_REACH_PRIVATE, WEBHOOK_REACH_ANY};
    for (int i = 0; i < 3; i++)
        out[i] = webhook_address_allowed((const struct sockaddr *)&ss, r[i]) ? 'y' : '-';
    out[3] = '\0';
    return out;
}

static void test_reach_names(void)
{
    CHECK_EQ_INT(webhook_reach_parse("public"), WEBHOOK_REACH_PUBLIC);
    CHECK_EQ_INT(webhook_reach_parse("private"), WEBHOOK_REACH_PRIVATE);
    CHECK_EQ_INT(webhook_reach_parse("any"), WEBHOOK_REACH_ANY);
    CHECK_EQ_INT(webhook_reach_parse("Public"), -1);
    CHECK_EQ_INT(webhook_reach_parse(""), -1);
}

static void test_address_classes(void)
{
    static const struct {
        const char *addr, *want;
    } cases[] = {
        /* public */
        {"93.184.215.14", "yyy"}, {"8.8.8.8", "yyy"}, {"172.32.0.1", "yyy"}, {"172.15.255.255", "yyy"},
        {"100.128.0.1", "yyy"}, {"192.169.0.1", "yyy"}, {"2606:2800:21f:cb07::1", "yyy"},
        {"::ffff:8.8.8.8", "yyy"},
        /* loopback and private networks */
        {"127.0.0.1", "-yy"}, {"127.255.255.254", "-yy"}, {"10.0.0.1", "-yy"}, {"172.16.0.1", "-yy"},
        {"172.31.255.255", "-yy"}, {"192.168.1.1", "-yy"}, {"100.64.0.1", "-yy"}, {"100.127.255.255", "-yy"},
        {"::1", "-yy"}, {"fd00::1", "-yy"}, {"fc00::1", "-yy"}, {"::ffff:127.0.0.1", "-yy"},
        {"::ffff:10.1.2.3", "-yy"},
        /* never, but under any: link-local (instance metadata), unspecified, multicast, reserved */
        {"169.254.169.254", "--y"}, {"169.254.0.1", "--y"}, {"0.0.0.0", "--y"}, {"0.1.2.3", "--y"},
        {"224.0.0.1", "--y"}, {"239.255.255.250", "--y"}, {"240.0.0.1", "--y"}, {"255.255.255.255", "--y"},
        {"::", "--y"}, {"fe80::1", "--y"}, {"febf::1", "--y"}, {"ff02::1", "--y"},
        {"::ffff:169.254.169.254", "--y"},
        /* IPv4 inside IPv6 (NAT64, 6to4, IPv4-compatible) is judged as itself. */
        {"64:ff9b::a9fe:a9fe", "--y"}, {"64:ff9b::808:808", "yyy"}, {"2002:a9fe:a9fe::1", "--y"},
        {"2002:0a00:0001::1", "-yy"}, {"2002:0808:0808::1", "yyy"}, {"::10.0.0.1", "-yy"},
        /* Not public: protocol assignments, documentation, benchmarking. */
        {"192.0.0.8", "-yy"}, {"192.0.2.1", "-yy"}, {"198.51.100.7", "-yy"}, {"203.0.113.9", "-yy"},
        {"198.18.0.1", "-yy"}, {"198.19.255.255", "-yy"}, {"198.20.0.1", "yyy"}, {"192.0.3.1", "yyy"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "%s", cases[i].addr);
        const char *got = reaches(cases[i].addr);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "\n  %s: got %s, expected %s\n", label, got, cases[i].want);
        CHECK_EQ_STR(got, cases[i].want);
    }
    /* fec0::/10 (old site-local) is not link-local. */
    CHECK_EQ_STR(reaches("fec0::1"), "yyy");
}

void register_webhook_tests(void)
{
    CU_pSuite s = CU_add_suite("subs/webhook", NULL, NULL);
    CU_add_test(s, "reach names", test_reach_names);
    CU_add_test(s, "address classes under each reach", test_address_classes);
}
