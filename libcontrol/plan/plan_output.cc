// The plan as a DBA reads it, and as JSON for scripts.
#include <algorithm>

#include <fmt/format.h>

#include "libcontrol/plan/planner.h"

namespace pgrescue {
namespace {

// "2 (start-server), 4 (reset)": the ranked remedies a class names.
std::string AddressedBy(const Plan& plan, const FailureClass& c) {
  std::string out;
  for (size_t i = 0; i < plan.remedies.size(); ++i) {
    if (std::find(c.remedies.begin(), c.remedies.end(), plan.remedies[i].code) == c.remedies.end()) continue;
    out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", i + 1, plan.remedies[i].code);
  }
  return out;
}

std::string FormatSymptoms(const Plan& plan) {
  std::string out = "\nSymptoms, from ";
  for (size_t i = 0; i < plan.log_sources.size(); ++i) out += (i ? ", " : "") + plan.log_sources[i];
  out += ":\n";
  if (plan.diagnoses.empty()) out += "  the log names no failure pgrescue knows\n";
  for (const auto& d : plan.diagnoses) {
    out += fmt::format("  {} [{}]: {}\n", d.failure->code, SymptomVerdictName(d.verdict), d.failure->title);
    for (size_t i = 0; i < d.messages.size() && i < 3; ++i) {
      const auto& m = d.messages[i];
      out += fmt::format("     log: {}{}{}\n", m.severity, m.severity.empty() ? "" : ":  ", m.text);
    }
    if (d.messages.size() > 3) out += fmt::format("     log: ... and {} more\n", d.messages.size() - 3);
    for (const auto& line : d.evidence) out += "     disk: " + line + "\n";
    const auto addressed = AddressedBy(plan, *d.failure);
    out += "     remedies: " + (addressed.empty() ? std::string("none of those below") : addressed) + "\n";
  }
  return out;
}

}  // namespace

std::string FormatPlan(const Plan& plan) {
  std::string out = fmt::format("Plan for {} (PostgreSQL {})\n\nFound:\n", plan.data_dir, plan.layout->major());
  for (const auto& f : plan.found) out += "  " + f + "\n";
  if (!plan.log_sources.empty()) out += FormatSymptoms(plan);
  out += "\nHazards:\n";
  if (plan.hazards.empty()) out += "  none\n";
  for (const auto& h : plan.hazards) {
    out += fmt::format("  {} {}: {}\n", h.needs_decision ? "!" : "-", h.code, h.message);
  }
  out += "\nRemedies, least destructive first:\n";
  if (plan.remedies.empty()) out += "  none found: the evidence above is all there is\n";
  for (size_t i = 0; i < plan.remedies.size(); ++i) {
    const Remedy& r = plan.remedies[i];
    out += fmt::format("  {}. {}: {}\n     loses: {}\n", i + 1, r.code, r.summary, r.loses);
    for (const auto& why : r.reasons) out += "     because " + why + "\n";
    for (const auto& c : r.commands) out += "     $ " + c + "\n";
  }
  if (!plan.ShowsReset()) {
    out += "\nThe reset's values and command are shown when it is the first remedy; --reset-values shows "
           "them anyway.\n";
    return out;
  }
  out += "\nDerived values:\n";
  for (const auto& v : plan.values) {
    out += fmt::format("  {:<3} {:<42} {}   (confidence: {}{})\n", v.option, v.what, v.value,
                       ConfidenceName(v.confidence), v.in_command ? "" : "; not in the command");
    for (const auto& r : v.reasoning) out += "        " + r + "\n";
  }
  out += "\nCommand (dry run first with -n; nothing has been changed):\n  " + plan.command + "\n";
  out += "or, keeping every replaced file for --undo:\n  " + plan.pgrescue_command + "\n";
  for (const auto& r : plan.force_reasons) out += "  -f because " + r + "\n";
  return out;
}

nlohmann::ordered_json PlanToJson(const Plan& plan) {
  nlohmann::ordered_json j;
  j["data_dir"] = plan.data_dir;
  j["version"] = std::string(plan.layout->major());
  j["found"] = plan.found;
  j["logs"] = plan.log_sources;
  j["symptoms"] = nlohmann::ordered_json::array();
  for (const auto& d : plan.diagnoses) {
    auto messages = nlohmann::ordered_json::array();
    for (const auto& m : d.messages) {
      messages.push_back({{"severity", m.severity}, {"message", m.text}, {"detail", m.detail}, {"hint", m.hint}});
    }
    auto remedies = nlohmann::ordered_json::array();
    for (const auto& r : plan.remedies) {
      if (std::find(d.failure->remedies.begin(), d.failure->remedies.end(), r.code) != d.failure->remedies.end()) {
        remedies.push_back(r.code);
      }
    }
    j["symptoms"].push_back({{"class", d.failure->code}, {"title", d.failure->title},
                             {"verdict", SymptomVerdictName(d.verdict)}, {"messages", messages},
                             {"sources", d.sources}, {"evidence", d.evidence}, {"remedies", remedies}});
  }
  j["hazards"] = nlohmann::ordered_json::array();
  for (const auto& h : plan.hazards) {
    j["hazards"].push_back({{"code", h.code}, {"message", h.message}, {"needs_decision", h.needs_decision}});
  }
  j["values"] = nlohmann::ordered_json::array();
  for (const auto& v : plan.values) {
    j["values"].push_back({{"option", v.option}, {"long_option", v.long_option}, {"what", v.what},
                           {"value", v.value}, {"confidence", ConfidenceName(v.confidence)},
                           {"in_command", v.in_command}, {"reasoning", v.reasoning}});
  }
  j["remedies"] = nlohmann::ordered_json::array();
  for (const auto& r : plan.remedies) {
    j["remedies"].push_back({{"code", r.code}, {"summary", r.summary}, {"loses", r.loses},
                             {"commands", r.commands}, {"reasons", r.reasons}});
  }
  if (plan.page_lsn) {
    const auto& p = *plan.page_lsn;
    j["page_lsn"] = {{"max_lsn", p.max ? nlohmann::ordered_json(FormatLsn(p.max->lsn)) : nullptr},
                     {"file", p.max ? nlohmann::ordered_json(p.max->file) : nullptr},
                     {"block", p.max ? nlohmann::ordered_json(p.max->block) : nullptr},
                     {"files", p.files}, {"pages", p.pages}, {"invalid_pages", p.invalid_pages},
                     {"invalid_examples", p.DamagedExamples(10)}, {"structural", p.StructuralMessages()}};
  } else {
    j["page_lsn"] = nullptr;
  }
  j["needs_force"] = plan.needs_force;
  j["force_reasons"] = plan.force_reasons;
  j["command"] = plan.ShowsReset() ? plan.command : "";
  j["pgrescue_command"] = plan.ShowsReset() ? plan.pgrescue_command : "";
  j["needs_decision"] = plan.NeedsDecision();
  return j;
}

}  // namespace pgrescue
