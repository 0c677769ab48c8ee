// R6 crash loop: a child process runs 8 writer threads and reports each commit over a pipe once
// COMMIT has returned; the parent kills it with SIGKILL at a random moment, then checks the
// database: integrity ok, every acknowledged transaction present, every transaction whole.
// SQLPOOL_CRASH_ROUNDS sets the number of rounds (default 50).
//
// fork() rules kept here: the parent holds no pool and no open connection when it forks, and runs
// no other thread (so no watchdog thread: alarm() is the watchdog, and ThreadSanitizer, which
// cannot follow a multi-threaded fork, is happy); the child creates its pool and threads after the
// fork and leaves with _exit() or SIGKILL only.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "reliability/reliability.hpp"
#include "support/scratch_dir.hpp"

import sqlpool;

using namespace std::chrono_literals;
namespace rel = sqlpool_reliability;

namespace {

constexpr std::size_t writer_threads = 8;

bool write_all(int fd, const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, bytes, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

sqlpool::journal_mode journal_for(std::uint64_t round) {
    // Mostly WAL (the library's default); every third round a rollback journal, so that both
    // recovery paths (WAL replay, hot journal rollback) run after a kill.
    return round % 3 == 2 ? sqlpool::journal_mode::delete_journal : sqlpool::journal_mode::wal;
}

// The child: never returns.
[[noreturn]] void child_main(const std::string& path, int ack_fd, std::uint64_t round, pid_t parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(3);
    ::alarm(120); // never outlive a lost parent by much
    int code = 0;
    try {
        sqlpool::pool pool{sqlpool::pool_config{.database = path,
                                                .busy_timeout = 5s,
                                                .journal = journal_for(round),
                                                .min_connections = writer_threads,
                                                .max_connections = writer_threads,
                                                .acquire_timeout = 30s,
                                                .transaction_timeout = 60s,
                                                .background_maintenance = false}};
        std::atomic<bool> failed{false};
        std::vector<std::thread> writers;
        for (std::size_t t = 0; t < writer_threads; ++t) {
            writers.emplace_back([&, t] {
                for (std::int64_t seq = 0; seq < 1'000'000 && !failed.load(); ++seq) {
                    const std::int64_t tx = static_cast<std::int64_t>(round) * 100'000'000 +
                                            static_cast<std::int64_t>(t) * 10'000'000 + seq;
                    try {
                        pool.write([&](sqlpool::connection& conn) {
                            for (std::int64_t k = 0; k < 3; ++k)
                                conn.exec("INSERT INTO rows(tx, k, payload) VALUES (?, ?, ?)", tx, k,
                                          std::string(static_cast<std::size_t>(100 + (seq % 7) * 150), 'p'));
                        });
                    } catch (const sqlpool::error&) {
                        continue; // not acknowledged; the parent checks it is all or nothing
                    }
                    if (!write_all(ack_fd, &tx, sizeof tx)) failed.store(true);
                }
            });
        }
        for (auto& w : writers) w.join();
        code = failed.load() ? 4 : 0;
    } catch (...) {
        code = 2;
    }
    ::_exit(code);
}

struct round_result {
    std::uint64_t acknowledged = 0;
    bool killed = false;
    int exit_code = -1;
};

round_result run_round(const std::string& path, std::uint64_t round, std::mt19937_64& rng,
                       std::set<std::int64_t>& acked) {
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        child_main(path, fds[1], round, parent);
    }
    ::close(fds[1]);

    // When to kill: a random moment in the first ~150 ms (sometimes while the child is still
    // opening the database and recovering it), or right after a random number of acknowledgements.
    const bool by_count = rng() % 2 == 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 150'000);
    const std::uint64_t kill_after_acks = rng() % 400;
    round_result result;
    std::vector<unsigned char> pending;
    const auto take = [&](const unsigned char* data, std::size_t n) {
        pending.insert(pending.end(), data, data + n);
        std::size_t used = 0;
        for (; pending.size() - used >= sizeof(std::int64_t); used += sizeof(std::int64_t)) {
            std::int64_t tx = 0;
            std::memcpy(&tx, pending.data() + used, sizeof tx);
            acked.insert(tx);
            ++result.acknowledged;
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
    };
    unsigned char buffer[4096];
    bool eof = false;
    while (!eof) {
        if (by_count ? result.acknowledged >= kill_after_acks : std::chrono::steady_clock::now() >= deadline)
            break;
        pollfd p{fds[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, 1);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            if (by_count && std::chrono::steady_clock::now() >= deadline + 5s) break; // a slow child
            continue;
        }
        const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            eof = true;
            break;
        }
        take(buffer, static_cast<std::size_t>(n));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    // What the child wrote before it died is still in the pipe: those are acknowledged too.
    while (true) {
        const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        take(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    BOOST_TEST(pending.empty()); // acknowledgements are written whole (8 bytes < PIPE_BUF)
    result.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

} // namespace

BOOST_AUTO_TEST_SUITE(r6_crash_loop)

BOOST_AUTO_TEST_CASE(killed_writers_lose_no_acknowledged_commit) {
    const std::uint64_t rounds = rel::env_u64("SQLPOOL_CRASH_ROUNDS", 50);
    // The watchdog: SIGALRM ends the process (Boost.Test reports it) if the loop hangs.
    ::alarm(static_cast<unsigned>(rel::env_u64("SQLPOOL_WATCHDOG_SECONDS", 300) + rounds * 2));

    sqlpool_test::scratch_dir dir{"r6"};
    const std::string path = dir.file("r6.db");
    {
        sqlpool::connection setup(path);
        setup.exec("CREATE TABLE rows(tx INTEGER NOT NULL, k INTEGER NOT NULL, payload TEXT NOT NULL, "
                   "PRIMARY KEY (tx, k))");
    }
    std::mt19937_64 rng(rel::seed() + 6000);
    std::set<std::int64_t> acked;
    std::uint64_t killed = 0, exited_early = 0, child_failures = 0, lost = 0, partial = 0, bad_integrity = 0;
    std::uint64_t committed_total = 0, unacked_present = 0, kills_before_first_ack = 0;
    for (std::uint64_t round = 0; round < rounds; ++round) {
        const auto r = run_round(path, round, rng, acked);
        if (r.killed) ++killed;
        if (!r.killed) {
            ++exited_early;
            if (r.exit_code != 0) ++child_failures;
        }
        if (r.acknowledged == 0) ++kills_before_first_ack;

        // Recovery happens here, in the parent, on the first open after the kill.
        sqlpool::connection check(
            sqlpool::open_options{.path = path, .journal = sqlpool::journal_mode::unchanged});
        const auto integrity = check.query_value<std::string>("PRAGMA integrity_check");
        if (integrity != "ok") {
            ++bad_integrity;
            BOOST_ERROR("round " << round << ": integrity_check says " << integrity);
        }
        std::map<std::int64_t, std::int64_t> present;
        for (auto [tx, n] :
             check.query<std::int64_t, std::int64_t>("SELECT tx, count(*) FROM rows GROUP BY tx"))
            present[tx] = n;
        std::uint64_t round_partial = 0, round_lost = 0;
        for (const auto& [tx, n] : present)
            if (n != 3) ++round_partial;
        for (const auto tx : acked)
            if (!present.contains(tx)) ++round_lost;
        if (round_partial != 0 || round_lost != 0)
            BOOST_ERROR("round " << round << ": " << round_lost << " acknowledged transaction(s) lost, "
                                 << round_partial << " partial");
        partial += round_partial;
        lost += round_lost;
        committed_total = present.size();
        unacked_present = present.size() - acked.size();
    }
    ::alarm(0);
    rel::figures("R6", "rounds=" + std::to_string(rounds) + " killed=" + std::to_string(killed) +
                           " exited_early=" + std::to_string(exited_early) + " acknowledged=" +
                           std::to_string(acked.size()) + " committed=" + std::to_string(committed_total) +
                           " committed_unacknowledged=" + std::to_string(unacked_present) +
                           " lost=" + std::to_string(lost) + " partial=" + std::to_string(partial) +
                           " kills_before_first_ack=" + std::to_string(kills_before_first_ack) +
                           " bad_integrity=" + std::to_string(bad_integrity));
    BOOST_TEST(lost == 0u);
    BOOST_TEST(partial == 0u);
    BOOST_TEST(bad_integrity == 0u);
    BOOST_TEST(child_failures == 0u);
    BOOST_TEST(killed + exited_early == rounds);
    BOOST_TEST(killed > 0u);
    BOOST_TEST(acked.size() > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
