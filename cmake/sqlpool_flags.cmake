# Compiler flags shared by everything in one build tree. Sanitizer and coverage flags apply to the
# whole tree: a module's BMI and its importers must be compiled with the same flags.

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
