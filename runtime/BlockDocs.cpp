#include "runtime/BlockDocs.h"

#include <cmath>
#include <iterator>
#include <map>
#include <vector>

#include "runtime/AttrJson.h"
#include "runtime/Json.h"

namespace qs {

namespace {

const char* kFooter =
    "\n---\n*Generated from the block's descriptor by `quantspace-docs docs/blocks`; do not edit "
    "by "
    "hand.*\n";

// Table cells are one line, and a '|' would end the cell.
std::string cell(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '|')
      r += "\\|";
    else if (c == '\n')
      r += ' ';
    else
      r += c;
  }
  return r;
}

std::string number(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  return formatFloat(static_cast<float>(d));
}

std::string rangeText(const AttrDescriptor& a) {
  if (a.minValue && a.maxValue) return number(*a.minValue) + " to " + number(*a.maxValue);
  if (a.minValue) return ">= " + number(*a.minValue);
  if (a.maxValue) return "<= " + number(*a.maxValue);
  return "";
}

std::string kindText(const PortDescriptor& p) {
  switch (p.kind) {
    case PortKind::Scope:
      return "scope";
    case PortKind::Attrs:
      return "attrs";
    case PortKind::Tensor:
      return p.dtypes.size() == std::size(kAllDTypes) ? "tensor of any dtype"
                                                      : p.describeDTypes() + " tensor";
  }
  return "";
}

// Whether a Gradients block can differentiate through this block, and with respect to what.
std::string gradientText(const BlockDescriptor& d) {
  if (!d.gradient && d.inputs().empty()) return "None (the block has no tensor inputs).\n";
  if (!d.gradient)
    return "None: no gradient passes through this block, so one between a Gradients block's "
           "`xs` and its `ys` is an error that names it (its output may still be `xs` itself).\n";
  // Gradients are float32: an input that takes no float32 (labels, indices) gets none.
  std::vector<std::string> names;
  for (const PortDescriptor* in : d.inputs())
    if (in->takes(DType::Float32)) names.push_back("`" + in->name + "`");
  std::string wrt;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) wrt += i + 1 == names.size() ? " and " : ", ";
    wrt += names[i];
  }
  std::string s = "With respect to " + wrt + " (for the Gradients block).";
  if (!d.gradientDoc.empty()) s += " " + d.gradientDoc;
  return s + "\n";
}

}  // namespace

std::string blockReferenceFileName(const BlockDescriptor& desc) {
  return desc.type + ".md";
}

std::string blockReferencePage(const BlockDescriptor& d) {
  std::string s = "# " + d.type + "\n\n";
  s += "Category: **" + d.category + "**\n\n";
  s += d.summary + "\n\n";
  if (!d.doc.empty()) s += d.doc + "\n\n";

  s += "## Ports\n\n";
  s += "Inputs on the left edge from top to bottom, outputs on the right; each output `P` also "
       "shows its result `result_P` on the bottom edge.\n\n";
  s += "| port | direction | carries | rank | wiring | description |\n";
  s += "|---|---|---|---|---|---|\n";
  for (const PortDescriptor& p : d.ports) {
    const bool input = p.direction == PortDirection::Input;
    std::string wiring;
    if (p.kind == PortKind::Scope)
      wiring = "bound to the page, never wired";
    else if (p.kind == PortKind::Attrs)
      wiring = "never wired";
    else if (input)
      wiring = p.required ? "required" : "optional";
    else
      wiring = "any number of wires";
    s += "| `" + p.name + "` | " + (input ? "input" : "output") + " | " + kindText(p) + " | " +
         (p.kind == PortKind::Tensor ? p.rank.describe() : "") + " | " + wiring + " | " +
         cell(p.doc) + " |\n";
  }

  s += "\n## Attributes\n\n";
  if (d.attrs.empty()) {
    s += d.type + " has no attributes.\n";
  } else {
    s += "Set in the page file under `\"attrs\"`. An attribute the block does not declare, a value "
         "of the wrong type or out of range is an error naming the block and the attribute; "
         "nothing is clamped or ignored.\n\n";
    s += "| attribute | type | default | valid range | description |\n";
    s += "|---|---|---|---|---|\n";
    for (const AttrDescriptor& a : d.attrs) {
      std::string def = a.required ? "required"
                        : a.defaultValue
                            ? "`" + writeJson(attrValueToJson(*a.defaultValue), false) + "`"
                            : "unset";
      std::string range = rangeText(a);
      if (!a.rangeMessage.empty()) range += " (else: \"" + a.rangeMessage + "\")";
      s += "| `" + a.name + "` | " + attrTypeName(a.type) + " | " + cell(def) + " | " +
           cell(range) + " | " + cell(a.doc) + " |\n";
    }
  }

  s += "\n## Outputs and results\n\n";
  const auto outs = d.outputs();
  if (outs.empty()) {
    s += d.type + " has no tensor outputs.\n";
  } else {
    s += "| output | result | as named by the runner (`--fetch`, `--save-npy`, `--json`) |\n";
    s += "|---|---|---|\n";
    for (const PortDescriptor* p : outs)
      s += "| `" + p->name + "` | `" + resultName(p->name) + "` | `<block id>." +
           resultName(p->name) + "` |\n";
  }

  s += "\n## Gradient\n\n" + gradientText(d);

  s += "\n## In a page file\n\n```json\n";
  OrderedJson block;
  block["id"] = "b";
  block["type"] = d.type;
  OrderedJson attrs = OrderedJson::object();
  for (const AttrDescriptor& a : d.attrs)
    if (a.defaultValue)
      attrs[a.name] = OrderedJson::parse(writeJson(attrValueToJson(*a.defaultValue), false));
  block["attrs"] = attrs;
  s += writeJson(block, false) + "\n";
  const auto ins = d.inputs();
  for (const PortDescriptor* p : ins) {
    OrderedJson link;
    link["from"] = {"source", "output"};
    link["to"] = {"b", p->name};
    s += writeJson(link, false) + "\n";
  }
  s += "```\n";
  return s + kFooter;
}

std::string blockReferenceIndex(const std::vector<const BlockDescriptor*>& descs) {
  std::map<std::string, std::vector<const BlockDescriptor*>> byCategory;
  for (const BlockDescriptor* d : descs) byCategory[d->category].push_back(d);
  std::string s = "# Block reference\n\n";
  s += "Every block type Quant Space knows, by palette category. TensorFlow op blocks carry the "
       "TensorFlow op's name; each output `P` of block `B` is the result `B.result_P`.\n";
  for (const auto& [category, list] : byCategory) {
    s += "\n## " + category + "\n\n| block | what it does |\n|---|---|\n";
    for (const BlockDescriptor* d : list)
      s += "| [" + d->type + "](" + blockReferenceFileName(*d) + ") | " + cell(d->summary) + " |\n";
  }
  return s + kFooter;
}

}  // namespace qs
