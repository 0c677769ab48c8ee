# Compiler flags shared by everything in one build tree. Sanitizer and coverage flags apply to the
# whole tree: a module's BMI and its importers must be compiled with the same flags.

# Reduced BMIs (clang 18+): a module interface's BMI keeps what importers can reach, not every
# declaration of its global module fragment. Each partition here includes the same standard
# headers, and writing the full BMI of a partition that imports many others took most of its
# compile time (-ftime-trace: WriteAST 19 of 26 s for :manager); the library builds in 448 s
# instead of 536 s (asan preset, 2 cores). Has no effect on other translation units. The installed
# package records these options for its module interfaces, so a consumer's BMIs are reduced too.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    add_compile_options(-fexperimental-modules-reduced-bmi)
endif()

if(SQLPOOL_SANITIZE)
    string(REPLACE "," ";" _sqlpool_sanitizers "${SQLPOOL_SANITIZE}")
    add_compile_options(-fsanitize=${SQLPOOL_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${SQLPOOL_SANITIZE})
endif()

if(SQLPOOL_COVERAGE)
    add_compile_options(-fprofile-instr-generate -fcoverage-mapping)
    add_link_options(-fprofile-instr-generate)
endif()

# Warnings for sqlpool's own targets (not third-party code).
function(sqlpool_warnings target)
    target_compile_options(${target} PRIVATE
        -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
        -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion
        -Wimplicit-fallthrough -Wno-unused-command-line-argument
        # Config structs are meant to be filled partly with designated initializers.
        -Wno-missing-designated-field-initializers)
    if(SQLPOOL_WARNINGS_AS_ERRORS)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
endfunction()
