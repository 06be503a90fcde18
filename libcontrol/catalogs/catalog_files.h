// The catalogs against the files on disk, the part of pg_catcheck that needs
// no server: every relation with storage has its first segment, and every
// relation file belongs to a pg_class row.
//
// Judged only where the verdict cannot be a false alarm: a relation is
// missing its file only when its row is known current and not temporary; a
// file is an orphan only when it holds data (the server empties a dropped
// relation's first segment at once and unlinks it at the next checkpoint)
// and its database's pg_class was read.
#pragma once

#include <vector>

#include "libcontrol/catalogs/relation_names.h"
#include "libcontrol/pages/page_scan.h"

namespace pgrescue {

std::vector<CatalogFinding> CheckRelationFiles(const RelationNames& names, const PageScanReport& report);

// How the catalogs say a relation file's pages are laid out.
RelationFormat FormatOf(const RelationNames& names, const RelationFile& file);

}  // namespace pgrescue
