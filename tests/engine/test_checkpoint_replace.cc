// Saving a checkpoint over an earlier one, in a program linked with libtorch (whose own std::filesystem copy once
// crashed the replacement): the directory then holds the second model only, and remove_tree clears nested trees.
#include "catch_aten.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include <catch2/generators/catch_generators.hpp>
#include <catch2/generators/catch_generators_range.hpp>

#include "core/remove_tree.h"
#include "engine/checkpoint.h"
#include "engine/opt_model.h"
#include "test_util.h"

using namespace zo2;

TEST_CASE("a checkpoint saved over an earlier one replaces it whole") {
  const std::string family = GENERATE(from_range(test::test_families()));
  const uint64_t seed = test::fresh_seed();
  INFO(family << " seed " << seed);
  std::mt19937_64 rng(seed);
  const ModelShape shape = test::random_small_shape(rng, family);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("zo2-replace-" + std::to_string(rng()));
  OptModel first = OptModel::allocate(shape, DType::f32, at::kCPU);
  first.init_random(rng());
  OptModel second = OptModel::allocate(shape, DType::f32, at::kCPU);
  second.init_random(rng());
  save_opt_checkpoint(first, dir);
  // Tiny shards: the directory being replaced holds several files, as a sharded checkpoint does.
  save_opt_checkpoint(second, dir, /*max_shard_bytes=*/4096);
  CHECK_FALSE(std::filesystem::exists(dir.string() + ".old"));
  CHECK_FALSE(std::filesystem::exists(dir.string() + ".partial"));
  const OptModel back = load_opt_checkpoint(dir, DType::f32, at::kCPU);
  CHECK(at::equal(back.resident.flat, second.resident.flat));
  for (size_t l = 0; l < back.blocks.size(); ++l) CHECK(at::equal(back.blocks[l].flat, second.blocks[l].flat));
  remove_tree(dir);
  CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("remove_tree removes nested directories and files, and a missing path is not an error") {
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("zo2-tree-" + std::to_string(test::fresh_seed()));
  std::filesystem::create_directories(root / "a" / "b");
  std::ofstream(root / "a" / "b" / "f.bin") << "x";
  std::ofstream(root / "g.txt") << "y";
  std::filesystem::create_symlink("/", root / "link");  // removed, never followed
  remove_tree(root);
  CHECK_FALSE(std::filesystem::exists(root));
  CHECK_NOTHROW(remove_tree(root));
}
