#include "editor_bridge/ApplyCalibrator.h"

#include <QObject>
#include <cmath>

#include "blocks/quant/CalibrationBakeOff.h"
#include "editor_bridge/LayoutTools.h"
#include "editor_bridge/PageCommands.h"

namespace qs::editor {

QString applyCalibratorRefusal(const PageModel& model, const BlockId& fq) {
  const Block* b = model.page().find(fq);
  if (!b)
    return QObject::tr("Block '%1' is not on the page.").arg(QString::fromStdString(fq.str()));
  const BlockDescriptor* d = model.registry().find(b->type);
  const bool hasRangeInputs = d && d->findPort("min", PortDirection::Input) &&
                              d->findPort("max", PortDirection::Input) &&
                              d->findPort("inputs", PortDirection::Input);
  if (b->type.rfind("FakeQuant", 0) != 0 || !hasRangeInputs)
    return QObject::tr(
               "Applying a calibrator needs a FakeQuant block whose min and max are inputs; "
               "%1 takes its range from attributes.")
        .arg(QString::fromStdString(b->type));
  if (!model.linkInto(PortRef{fq, PortName("inputs")}))
    return QObject::tr("The block's `inputs` is not wired.");
  return {};
}

namespace {

Json calibratorAttrs(const BlockDescriptor& d, const Block& fq, const Json& fqAttrs) {
  Json a = Json::object();
  if (d.findAttr("num_bits") && fqAttrs.contains("num_bits")) a["num_bits"] = fqAttrs["num_bits"];
  if (d.findAttr("narrow_range") && fqAttrs.contains("narrow_range"))
    a["narrow_range"] = fqAttrs["narrow_range"];
  if (d.findAttr("mode")) a["mode"] = "last";
  // The PerChannel op takes a range per channel; the Vars op one for the whole tensor.
  a["per_channel"] = fq.type.find("PerChannel") != std::string::npos;
  return a;
}

}  // namespace

QString applyCalibrator(PageModel& model, const BlockId& fq, calib::Method m, BlockId* added) {
  const QString why = applyCalibratorRefusal(model, fq);
  if (!why.isEmpty()) return why;
  const Block& target = *model.page().find(fq);
  const std::string type = calib::blockType(m);
  const BlockDescriptor* d = model.registry().find(type);
  if (!d)
    return QObject::tr("The block type %1 is not available.").arg(QString::fromStdString(type));
  Block cal;
  cal.id = BlockId(model.freshIdLike(calib::methodName(m)));
  cal.type = type;
  cal.attrs = calibratorAttrs(*d, target, target.attrs);
  // Left of the FakeQuant block and a little below, where the wires from its input and to its
  // min and max stay short; lower down if blocks are there.
  if (target.position) {
    const QPointF at = clearSpotBelow(
        model, type, QPointF((*target.position)[0] - 220, (*target.position)[1] + 140));
    cal.position = std::array<double, 2>{std::round(at.x()), std::round(at.y())};
  }
  const PortRef source = model.linkInto(PortRef{fq, PortName("inputs")})->from;
  std::vector<Link> old;
  for (const char* port : {"min", "max"})
    if (const Link* l = model.linkInto(PortRef{fq, PortName(port)})) old.push_back(*l);
  const std::vector<Link> links = {{source, {cal.id, PortName("inputs")}},
                                   {{cal.id, PortName("min")}, {fq, PortName("min")}},
                                   {{cal.id, PortName("max")}, {fq, PortName("max")}}};
  if (added) *added = cal.id;
  const QString text = QObject::tr("Apply %1 to %2")
                           .arg(QString::fromStdString(type), QString::fromStdString(fq.str()));
  QUndoStack* undo = model.undoStack();
  undo->beginMacro(text);
  if (!old.empty()) undo->push(new RemoveItemsCommand(&model, {}, old, text));
  undo->push(new AddItemsCommand(&model, {std::move(cal)}, links, text));
  undo->endMacro();
  return {};
}

}  // namespace qs::editor
