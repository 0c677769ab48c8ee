// Replays fuzz inputs without libFuzzer: calls LLVMFuzzerTestOneInput once per file named on the
// command line, or per regular file (sorted by name) in a directory named there. Used by the
// ordinary builds (dev, asan, tsan) to run the corpora as ctest tests; a failed check inside the
// target aborts, which fails the test. Exits non-zero when an argument cannot be read or names
// no input at all, so a test cannot pass by replaying nothing.
//
// Each input runs under an alarm: an input that hangs for SQLPOOL_REPLAY_TIMEOUT seconds (60 by
// default) kills the process instead of hanging the test run.
//
// --expect-crash (first argument): each input runs in a child process and must crash (die by a
// signal or exit non-zero); one that runs clean fails the run. For inputs that reproduce a known,
// still open library bug: the test turns red when the bug is fixed, to say the input can now run
// with the ordinary corpus.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool read_file(const std::filesystem::path& path, std::vector<std::uint8_t>& bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

unsigned replay_timeout() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the replay driver is single-threaded
    if (const char* text = std::getenv("SQLPOOL_REPLAY_TIMEOUT")) {
        const long seconds = std::strtol(text, nullptr, 10);
        if (seconds > 0 && seconds < 86'400) return static_cast<unsigned>(seconds);
    }
    return 60;
}

void run_one(const std::vector<std::uint8_t>& bytes) {
    // A copy in a buffer of exactly the input's size, as libFuzzer passes it, so that ASan
    // catches a read past the end.
    std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
    static const std::uint8_t no_bytes = 0; // a valid pointer for an empty input, as libFuzzer gives
    LLVMFuzzerTestOneInput(exact.empty() ? &no_bytes : exact.data(), exact.size());
}

// Runs the input in a child process; true when the child crashed.
bool crashes(const std::vector<std::uint8_t>& bytes, unsigned timeout) {
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) {
        std::perror("replay: fork");
        std::exit(1); // NOLINT(concurrency-mt-unsafe): the replay driver is single-threaded
    }
    if (child == 0) {
        ::alarm(timeout);
        run_one(bytes);
        std::fflush(nullptr);
        ::_exit(0);
    }
    int status = 0;
    if (::waitpid(child, &status, 0) != child) {
        std::perror("replay: waitpid");
        std::exit(1); // NOLINT(concurrency-mt-unsafe): the replay driver is single-threaded
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
        std::fprintf(stderr, "replay: hung for %u s (a hang is not the expected crash)\n", timeout);
        return false;
    }
    if (WIFSIGNALED(status)) {
        std::fprintf(stderr, "replay: crashed as expected (signal %d)\n", WTERMSIG(status));
        return true;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "replay: crashed as expected (exit status %d)\n", WEXITSTATUS(status));
        return true;
    }
    return false;
}

} // namespace

int main(int argc, char** argv) {
    int first = 1;
    const bool expect_crash = argc > 1 && std::string(argv[1]) == "--expect-crash";
    if (expect_crash) ++first;
    if (argc <= first) {
        std::fprintf(stderr, "usage: %s [--expect-crash] FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    std::vector<std::filesystem::path> inputs;
    for (int i = first; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        std::error_code ec;
        if (std::filesystem::is_directory(arg, ec)) {
            std::vector<std::filesystem::path> found;
            for (const auto& entry : std::filesystem::directory_iterator(arg, ec))
                if (entry.is_regular_file()) found.push_back(entry.path());
            if (ec) {
                std::fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], ec.message().c_str());
                return 1;
            }
            std::ranges::sort(found);
            inputs.insert(inputs.end(), found.begin(), found.end());
        } else if (std::filesystem::is_regular_file(arg, ec)) {
            inputs.push_back(arg);
        } else {
            std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", argv[i]);
            return 1;
        }
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    const unsigned timeout = replay_timeout();
    std::vector<std::uint8_t> bytes;
    for (const auto& path : inputs) {
        if (!read_file(path, bytes)) {
            std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
            return 1;
        }
        std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), bytes.size());
        if (expect_crash) {
            if (!crashes(bytes, timeout)) {
                std::fprintf(stderr,
                             "replay: %s ran clean but was expected to crash: if the library bug it "
                             "reproduces is fixed, drop it from the known bugs (fuzz/CMakeLists.txt)\n",
                             path.c_str());
                return 1;
            }
            continue;
        }
        ::alarm(timeout); // SIGALRM's default action ends the process: a hang fails the test
        run_one(bytes);
        ::alarm(0);
    }
    std::fprintf(stderr, "replay: %zu input(s) %s\n", inputs.size(),
                 expect_crash ? "crashed as expected" : "ran clean");
    return 0;
}
