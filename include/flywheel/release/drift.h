#pragma once

#include <nlohmann/json.hpp>

namespace flywheel::release {

// The part of `actual` (an object as the server has it) that `desired` (a manifest) speaks
// about: the same keys, recursively; arrays of equal length element by element, otherwise the
// whole array; top-level `status` is left out (applies do not own it).
//
// Self-heal compares projections instead of raw objects: the projection of the object right
// after an apply is what "in sync" looks like, with the server's defaults and normalisations
// (e.g. "0.5" CPU stored as "500m") already in it, so status updates and defaulting never look
// like drift, and a manifest field changed by someone else always does.
nlohmann::json Project(const nlohmann::json& desired, const nlohmann::json& actual);

}  // namespace flywheel::release
