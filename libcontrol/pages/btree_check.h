// What the server checks of a btree page when it reads one (_bt_checkpage,
// _bt_getmeta), and the page-type flags amcheck checks, without a server.
// The page must have passed CheckPage as valid (not new).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace pgrescue {

// What is wrong with `page`, block `block` of a btree index, or "".
std::string CheckBtreePage(std::span<const uint8_t> page, uint64_t block);

}  // namespace pgrescue
