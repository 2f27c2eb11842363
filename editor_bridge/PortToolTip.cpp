#include "editor_bridge/PortToolTip.h"

#include "editor_bridge/PageScene.h"

namespace qs::editor {

namespace {
QString kindText(const PortDescriptor& p) {
  if (p.kind == PortKind::Scope) return QObject::tr("scope pin (the page's settings, never wired)");
  if (p.kind == PortKind::Attrs) return QObject::tr("attributes pin (set in the attribute editor)");
  return QString::fromStdString(p.direction == PortDirection::Input ? "takes " : "gives ") +
         QString::fromStdString(p.describeDTypes());
}
}  // namespace

QString portToolTip(const PageScene& scene, const BlockItem& block, const BlockItem::Port& port) {
  const PortDescriptor& p = *port.desc;
  const bool input = p.direction == PortDirection::Input && !port.result;
  QString tip =
      QString::fromStdString(block.blockId().str() + "." + (port.result ? "result_" : "") + p.name);
  tip += port.result ? QObject::tr(" (result pin: click to view %1 in the viewer)")
                           .arg(QString::fromStdString(p.name))
         : input ? QObject::tr(" (input%1)").arg(p.required ? "" : QObject::tr(", optional"))
                 : QObject::tr(" (output)");
  if (!p.doc.empty()) tip += "\n" + QString::fromStdString(p.doc);
  tip += "\n" + kindText(p);
  if (p.kind != PortKind::Tensor) return tip;
  // An input's value is its source's output.
  PortRef source{block.blockId(), PortName(p.name)};
  if (input) {
    const Link* wired = scene.model()->linkInto(source);
    if (!wired) return tip + "\n" + QObject::tr("Not wired");
    source = wired->from;
  }
  const std::optional<Shape> shape = scene.outputShape(source);
  if (!shape) return tip + "\n" + QObject::tr("Last result: none yet");
  const DType dtype = scene.outputDType(source).value_or(DType::Float32);
  return tip + "\n" +
         QObject::tr("Last result: %1 %2")
             .arg(QString::fromLatin1(dtypeName(dtype)),
                  QString::fromStdString(shapeToString(*shape)));
}

}  // namespace qs::editor
