# ASan + UBSan for the whole build (ZO2_SANITIZE), and libFuzzer's coverage instrumentation on top (ZO2_FUZZ): every
# library is instrumented, so a fuzz target reports memory errors and undefined behaviour anywhere below it.
if(ZO2_SANITIZE OR ZO2_FUZZ)
  # Undefined behaviour aborts (no recovery), so a report fails the test or the fuzz run instead of scrolling by.
  set(_zo2_sanitizers -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_compile_options("$<$<COMPILE_LANGUAGE:CXX>:${_zo2_sanitizers}>")
  add_link_options(-fsanitize=address,undefined)
endif()
if(ZO2_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "zo2: ZO2_FUZZ needs clang (libFuzzer), got ${CMAKE_CXX_COMPILER_ID}: configure with "
                        "-DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(ZO2_WITH_TORCH)
    message(FATAL_ERROR "zo2: ZO2_FUZZ builds the parsers only: configure with -DZO2_WITH_TORCH=OFF")
  endif()
  # Coverage feedback in every library; only the fuzz targets link libFuzzer's main.
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link>)
endif()
