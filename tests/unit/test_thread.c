/* core/thread: announced waits nest; only the outermost pair reaches the
 * thread's hooks, and a thread with none registered calls nothing. */
#include "check.h"
#include "core/thread.h"

static int begun, ended;

static void count_begin(void *arg)
{
    CHECK(arg == &begun);
    begun++;
}

static void count_end(void *arg)
{
    CHECK(arg == &begun);
    ended++;
}

static void test_waits_nest(void)
{
    static const thread_waits_t hooks = {.begin = count_begin, .end = count_end, .arg = &begun};
    begun = ended = 0;
    thread_wait_begin(); /* nothing registered yet */
    thread_wait_end();
    thread_set_waits(&hooks);
    thread_wait_begin();
    thread_wait_begin(); /* a pool connection lent inside a credential check */
    CHECK_EQ_INT(begun, 1);
    thread_wait_end();
    CHECK_EQ_INT(ended, 0);
    thread_wait_end();
    CHECK_EQ_INT(ended, 1);
    thread_wait_end(); /* one end too many is ignored */
    CHECK_EQ_INT(ended, 1);
    thread_wait_begin();
    thread_wait_end();
    CHECK_EQ_INT(begun, 2);
    CHECK_EQ_INT(ended, 2);
    thread_set_waits(NULL);
    thread_wait_begin();
    thread_wait_end();
    CHECK_EQ_INT(begun, 2);
}

void register_thread_tests(void)
{
    CU_pSuite s = CU_add_suite("core/thread", NULL, NULL);
    CU_add_test(s, "announced waits nest", test_waits_nest);
}
