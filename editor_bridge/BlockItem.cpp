#include "editor_bridge/BlockItem.h"

#include <QFont>
#include <QFontMetrics>
#include <QPainter>
#include <QStyleOptionGraphicsItem>
#include <algorithm>
#include <unordered_map>

#include "editor_bridge/EditorStyle.h"
#include "editor_bridge/LayoutTools.h"
#include "editor_bridge/PageScene.h"
#include "editor_bridge/WireItem.h"

namespace qs::editor {

namespace {
constexpr qreal kPortTop = 50;
constexpr qreal kPortStep = 20;
// Below this zoom a block is a plain box whose fill shows the status (and, above kLabelLod, its
// screen-sized label); from kPlainLod to kDetailLod, box, pins, badge and the label.
constexpr qreal kTextLod = BlockItem::kDetailLod;

const QFont& labelFont() {
  static const QFont f = [] {
    QFont font;
    font.setPointSizeF(6.5);
    return font;
  }();
  return f;
}

// Fonts for the zoomed-out label, in pixels: the painter draws them untransformed, so they read
// the same at every zoom.
const QFont& labelIdFont() {
  static const QFont f = [] {
    QFont font;
    font.setPixelSize(10);
    font.setBold(true);
    return font;
  }();
  return f;
}
// For an id that two lines of the usual size would still shorten.
const QFont& labelIdSmallFont() {
  static const QFont f = [] {
    QFont font;
    font.setPixelSize(8);
    font.setBold(true);
    return font;
  }();
  return f;
}
const QFont& labelTypeFont() {
  static const QFont f = [] {
    QFont font;
    font.setPixelSize(9);
    return font;
  }();
  return f;
}

QStaticText preparedText(const QString& text, const QFont& font) {
  QStaticText t(text);
  t.setTextFormat(Qt::PlainText);
  t.prepare(QTransform(), font);
  return t;
}

// Static texts shared by every block of a type (titles) and every port of a name (labels): laid
// out once, so that loading thousands of blocks and painting them does no text layout per block.
QString wrappableTitle(const std::string& type);
const QStaticText& sharedText(const std::string& text, bool title) {
  static std::unordered_map<std::string, QStaticText> titles, labels;
  auto& cache = title ? titles : labels;
  auto it = cache.find(text);
  if (it != cache.end()) return it->second;
  QStaticText t(title ? wrappableTitle(text) : QString::fromStdString(text));
  t.setTextFormat(Qt::PlainText);
  if (title) {
    t.setTextWidth(BlockItem::kWidth - 24);
    QTextOption opt;
    opt.setWrapMode(QTextOption::WrapAtWordBoundaryOrAnywhere);
    t.setTextOption(opt);
  }
  t.prepare(QTransform(), title ? style::boldFont() : labelFont());
  return cache.emplace(text, t).first->second;
}

// Lets a long CamelCase op name wrap between its words.
QString wrappableTitle(const std::string& type) {
  QString out;
  for (size_t i = 0; i < type.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(type[i])) &&
        std::islower(static_cast<unsigned char>(type[i - 1])))
      out += QChar(0x200B);
    out += QChar(type[i]);
  }
  return out;
}
}  // namespace

namespace {
const QStaticText& titleOf(const std::string& type, const BlockDescriptor* desc) {
  return sharedText(desc ? type : type + " (unknown type)", true);
}
// Ports start below the title, which wraps to two or three lines for long op names.
qreal portTopBelow(const QStaticText& title) {
  return std::max(kPortTop, 5 + title.size().height() + 14 + 16);
}

// The names drawn beside a type's side pins, in the order of its ports: an input and an output on
// one row shortened so that they fit together (BlockItem::rowLabels()). Measured once per type,
// as sharedText() lays names out once: loading thousands of blocks measured them per block (a
// fifth of a 5000-block page's load).
const std::vector<std::string>& sideLabels(const BlockDescriptor& desc) {
  static std::unordered_map<const BlockDescriptor*, std::vector<std::string>> cache;
  auto it = cache.find(&desc);
  if (it != cache.end()) return it->second;
  std::vector<std::string> labels;
  std::vector<size_t> inputs, outputs;  // port indices, row by row
  for (size_t i = 0; i < desc.ports.size(); ++i) {
    labels.push_back(desc.ports[i].name);
    (desc.ports[i].direction == PortDirection::Input ? inputs : outputs).push_back(i);
  }
  const QFontMetricsF metrics(labelFont());
  for (size_t row = 0; row < std::min(inputs.size(), outputs.size()); ++row) {
    std::string& in = labels[inputs[row]];
    std::string& out = labels[outputs[row]];
    const auto [a, b] =
        BlockItem::rowLabels(QString::fromStdString(in), QString::fromStdString(out), metrics,
                             BlockItem::kPortLabelRoom);
    in = a.toStdString();
    out = b.toStdString();
  }
  return cache.emplace(&desc, std::move(labels)).first->second;
}
}  // namespace

qreal BlockItem::heightFor(const std::string& type, const BlockDescriptor* desc) {
  int left = 0, right = 0;
  if (desc)
    for (const PortDescriptor& p : desc->ports)
      (p.direction == PortDirection::Input ? left : right)++;
  return std::max(kMinHeight,
                  portTopBelow(titleOf(type, desc)) + std::max(left, right) * kPortStep + 30);
}

BlockItem::BlockItem(const BlockId& id, const std::string& type, const BlockDescriptor* desc)
    : id_(id), type_(type), desc_(desc) {
  setFlags(ItemIsSelectable | ItemIsMovable | ItemSendsGeometryChanges);
  setZValue(1);
  title_ = titleOf(type_, desc_);
  idText_.setText(elidedId(QString::fromStdString(id_.str()), QFontMetrics(labelFont()),
                           static_cast<int>(kWidth - 16)));
  idText_.setTextFormat(Qt::PlainText);
  portTop_ = portTopBelow(title_);
  height_ = heightFor(type_, desc_);
  if (desc_) {
    const std::vector<std::string>& labels = sideLabels(*desc_);
    int li = 0, ri = 0;
    for (size_t i = 0; i < desc_->ports.size(); ++i) {
      const PortDescriptor& p = desc_->ports[i];
      if (p.direction == PortDirection::Input)
        ports_.push_back({&p, QPointF(0, portTop_ + li++ * kPortStep), false, labels[i]});
      else
        ports_.push_back({&p, QPointF(kWidth, portTop_ + ri++ * kPortStep), false, labels[i]});
    }
    int bi = 0;
    for (const PortDescriptor& p : desc_->ports)
      if (p.direction == PortDirection::Output)
        ports_.push_back({&p, QPointF(kWidth * (bi++ + 1) / (ri + 1), height_), true, p.name});
  }
}

const QFont& BlockItem::portLabelFont() {
  return labelFont();
}

std::pair<QString, QString> BlockItem::rowLabels(const QString& in, const QString& out,
                                                 const QFontMetricsF& metrics, qreal width) {
  const qreal wIn = metrics.horizontalAdvance(in), wOut = metrics.horizontalAdvance(out);
  if (wIn + wOut <= width) return {in, out};
  // The shorter keeps its whole name when it takes no more than half.
  qreal roomIn = width / 2, roomOut = width / 2;
  if (wIn <= width / 2)
    roomIn = wIn, roomOut = width - wIn;
  else if (wOut <= width / 2)
    roomOut = wOut, roomIn = width - wOut;
  return {metrics.elidedText(in, Qt::ElideMiddle, roomIn),
          metrics.elidedText(out, Qt::ElideMiddle, roomOut)};
}

PageScene* BlockItem::pageScene() const {
  return static_cast<PageScene*>(scene());
}

QRectF BlockItem::boundingRect() const {
  // Pins stick out by their radius; the badge sits on the top-right corner.
  return QRectF(-kPortRadius - 2, -9, kWidth + 2 * kPortRadius + 4, height_ + kPortRadius + 11);
}

int BlockItem::portAt(QPointF itemPos) const {
  const qreal r2 = (kPortRadius + 5) * (kPortRadius + 5);
  for (size_t i = 0; i < ports_.size(); ++i) {
    const QPointF d = ports_[i].pos - itemPos;
    if (d.x() * d.x() + d.y() * d.y() <= r2) return static_cast<int>(i);
  }
  return -1;
}

QPointF BlockItem::portScenePos(const std::string& port, bool result) const {
  for (const Port& p : ports_)
    if (p.result == result && p.desc->name == port) return mapToScene(p.pos);
  // An unknown block type or port: attach where the wire stays visible but is not mistaken for a
  // wire into a real pin (the wires of a block of unknown type all meet there).
  return mapToScene(QPointF(result ? kWidth / 2 : 0, result ? height_ : 14));
}

bool BlockItem::hasPort(const std::string& port, PortDirection direction) const {
  for (const Port& p : ports_)
    if (!p.result && p.desc->name == port && p.desc->direction == direction) return true;
  return false;
}

void BlockItem::setStatus(BlockStatus status, const std::string& error) {
  if (status == status_ && error == error_) return;
  status_ = status;
  error_ = error;
  labelWidthPx_ = -1;  // the label's error line changed
  update();
}

void BlockItem::setWarning(const QString& warning) {
  if (warning == warning_) return;
  warning_ = warning;
  update();
}

QString BlockItem::elidedId(const QString& id, const QFontMetrics& metrics, int width) {
  return metrics.elidedText(id, Qt::ElideMiddle, width);
}

namespace {
// Whether an id may break before character i without splitting a word: after a separator, or
// where a lower-case letter or digit meets an upper-case one.
bool wordBreakBefore(const QString& id, qsizetype i) {
  const QChar a = id[i - 1], b = id[i];
  return a == '_' || a == '.' || a == '-' || (a.isLower() && b.isUpper()) ||
         (a.isDigit() != b.isDigit());
}
}  // namespace

QStringList BlockItem::idLines(const QString& id, const QFontMetrics& metrics, int width) {
  if (metrics.horizontalAdvance(id) <= width) return {id};
  qsizetype n = id.size() - 1;
  while (n > 1 && metrics.horizontalAdvance(id.left(n)) > width) --n;
  // Between words where both lines then show whole ("spike_|row", not "spike_ro|w").
  for (qsizetype b = n; b > 1; --b)
    if (wordBreakBefore(id, b) && metrics.horizontalAdvance(id.mid(b)) <= width)
      return {id.left(b), id.mid(b)};
  // Inside a word, as print breaks one: a hyphen after the first part. Without it "percent" over
  // "ile" read as two words.
  if (n > 0 && id[n - 1].isLetter() && id[n].isLetter()) {
    qsizetype h = n;
    while (h > 1 && metrics.horizontalAdvance(id.left(h) + '-') > width) --h;
    if (id[h - 1].isLetter() && id[h].isLetter())
      return {id.left(h) + '-', metrics.elidedText(id.mid(h), Qt::ElideLeft, width)};
  }
  // The second line keeps the end: where ids that share a start differ.
  return {id.left(n), metrics.elidedText(id.mid(n), Qt::ElideLeft, width)};
}

bool BlockItem::linesShowWhole(const QStringList& lines, const QString& id) {
  if (lines.join(QString()) == id) return true;
  return lines.size() == 2 && lines[0].endsWith('-') && lines[0].chopped(1) + lines[1] == id;
}

QString BlockItem::screenLabelId() const {
  return labelId2_.text().isEmpty() ? labelId_.text() : labelId_.text() + '\n' + labelId2_.text();
}

QStringList BlockItem::errorLines() const {
  if (status_ != BlockStatus::Error) return {};
  const QFontMetricsF fm(labelFont());
  const qreal width = kWidth - 12;
  // The room between the lowest side pin and the result pins on the bottom edge.
  qreal lowestPin = portTop_ - kPortStep;
  for (const Port& p : ports_)
    if (!p.result) lowestPin = std::max(lowestPin, p.pos.y());
  const qreal room = (height_ - kPortRadius - 2) - (lowestPin + kPortRadius + 4);
  const int maxLines = std::max(1, static_cast<int>(room / fm.lineSpacing()));
  QStringList lines;
  QString line;
  for (const QString& word : QString::fromStdString(error_).split(' ', Qt::SkipEmptyParts)) {
    const QString longer = line.isEmpty() ? word : line + ' ' + word;
    if (fm.horizontalAdvance(longer) <= width) {
      line = longer;
      continue;
    }
    if (!line.isEmpty()) lines << line;
    line = word;
    // A word wider than the box (a path, a long id) is broken where it must be.
    while (fm.horizontalAdvance(line) > width) {
      qsizetype n = line.size() - 1;
      while (n > 1 && fm.horizontalAdvance(line.left(n)) > width) --n;
      lines << line.left(n);
      line = line.mid(n);
    }
  }
  if (!line.isEmpty()) lines << line;
  if (lines.size() > maxLines) {
    QString last = lines[maxLines - 1];
    for (qsizetype i = maxLines; i < lines.size(); ++i) last += ' ' + lines[i];
    lines = lines.mid(0, maxLines);
    // Room for the "…" whatever the line's last word.
    lines.back() = fm.elidedText(last + QStringLiteral(" …"), Qt::ElideRight, width);
  }
  return lines;
}

void BlockItem::setSummary(const QString& text) {
  if (text == summary_) return;
  summary_ = text;
  update();
}

QString BlockItem::toolTipText() const {
  QString tip = QString::fromStdString(id_.str() + " (" + type_ + ")");
  if (desc_ && !desc_->summary.empty()) tip += "\n" + QString::fromStdString(desc_->summary);
  if (status_ == BlockStatus::Error)
    tip += "\n\nError: " + QString::fromStdString(error_);
  else
    tip += "\nStatus: " + QString::fromStdString(statusName(status_));
  if (!warning_.isEmpty()) tip += "\n\nWarning: " + warning_;
  return tip;
}

QVariant BlockItem::itemChange(GraphicsItemChange change, const QVariant& value) {
  // Only a drag snaps (something holds the mouse): undo and redo put blocks back exactly.
  if (change == ItemPositionChange && scene() && scene()->mouseGrabberItem())
    if (const PageScene* s = pageScene(); s && s->snapStep() > 0)
      return snapToGrid(value.toPointF(), s->snapStep());
  if (change == ItemPositionHasChanged) {
    if (PageScene* s = pageScene()) s->blockGeometryChanged(this);
    for (WireItem* w : wires_) w->updateEnds();
    if (PageScene* s = pageScene()) emit s->blockItemMoved();
  }
  return QGraphicsItem::itemChange(change, value);
}

void BlockItem::paintScreenLabel(QPainter* p, bool onStatusFill) {
  const QTransform world = p->worldTransform();
  // Only scale and translation reach here (the view neither rotates nor shears).
  const QRectF box = world.mapRect(QRectF(0, 0, kWidth, height_));
  constexpr int kPad = 3;
  const int width = static_cast<int>(box.width()) - 2 * kPad;
  if (width < 14) return;
  if (width != labelWidthPx_) {
    labelWidthPx_ = width;
    const QFontMetrics idMetrics(labelIdFont()), typeMetrics(labelTypeFont());
    const QString whole = QString::fromStdString(id_.str());
    QStringList id = idLines(whole, idMetrics, width);
    smallId_ = !linesShowWhole(id, whole);
    if (smallId_) id = idLines(whole, QFontMetrics(labelIdSmallFont()), width);
    const QFont& idFont = smallId_ ? labelIdSmallFont() : labelIdFont();
    labelId_ = preparedText(id.front(), idFont);
    labelId2_ = preparedText(id.size() > 1 ? id.back() : QString(), idFont);
    // The type only when enough of it shows to be told apart from the others.
    const QString type = QString::fromStdString(desc_ ? type_ : type_ + " (unknown type)");
    const QString elided = typeMetrics.elidedText(type, Qt::ElideRight, width);
    labelType_ =
        preparedText(elided.size() >= 4 || elided == type ? elided : QString(), labelTypeFont());
    labelError_ = preparedText(
        status_ == BlockStatus::Error
            ? typeMetrics.elidedText(QString::fromStdString(error_), Qt::ElideRight, width)
            : QString(),
        labelTypeFont());
  }
  const qreal idHeight = labelId_.size().height(), typeHeight = labelType_.size().height();
  qreal y = box.top() + kPad;
  const qreal bottom = box.bottom() - kPad;
  if (y + idHeight > bottom) return;
  p->setWorldTransform(QTransform());
  p->setPen(style::kTitle);
  p->setFont(smallId_ ? labelIdSmallFont() : labelIdFont());
  p->drawStaticText(QPointF(box.left() + kPad, y), labelId_);
  y += idHeight;
  if (!labelId2_.text().isEmpty() && y + idHeight <= bottom) {
    p->drawStaticText(QPointF(box.left() + kPad, y), labelId2_);
    y += idHeight;
  }
  p->setFont(labelTypeFont());
  if (!labelType_.text().isEmpty() && y + typeHeight <= bottom) {
    p->setPen(style::kLabel);
    p->drawStaticText(QPointF(box.left() + kPad, y), labelType_);
    y += typeHeight;
  }
  if (!labelError_.text().isEmpty() && y + typeHeight <= bottom) {
    // On the red fill of a far-out block white reads; on the dark fill, a light red.
    p->setPen(onStatusFill ? QColor(Qt::white)
                           : style::statusColor(BlockStatus::Error).lighter(140));
    p->drawStaticText(QPointF(box.left() + kPad, y + 2), labelError_);
  }
  p->setWorldTransform(world);
}

void BlockItem::paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) {
  const qreal lod = option->levelOfDetailFromTransform(p->worldTransform());
  const QRectF body(0, 0, kWidth, height_);
  const bool selected = isSelected();
  if (lod < kPlainLod) {
    // Far out: one filled box; the fill says the status so that errors are found at a glance.
    p->setRenderHint(QPainter::Antialiasing, false);
    p->setPen(QPen(selected ? style::kBlockOutlineSelected : style::kBlockOutline, 0));
    p->setBrush(status_ == BlockStatus::Ok ? style::kBlockFill : style::statusColor(status_));
    p->drawRect(body);
    if (lod >= kLabelLod) paintScreenLabel(p, true);
    return;
  }
  p->setRenderHint(QPainter::Antialiasing, true);
  p->setPen(
      QPen(selected ? style::kBlockOutlineSelected : style::kBlockOutline, selected ? 3.0 : 1.5));
  p->setBrush(style::kBlockFill);
  p->drawRoundedRect(body, 4, 4);

  const PageScene* scene = pageScene();
  const bool dragging = scene && scene->wireDragActive();
  for (const Port& port : ports_) {
    const QColor c = style::portColor(port.desc->kind, port.desc->direction, port.result);
    qreal r = kPortRadius;
    QPen pen(port.desc->kind == PortKind::Scope ? QColor(120, 120, 120) : c.darker(160), 1);
    if (dragging && !port.result && port.desc->direction == PortDirection::Input &&
        port.desc->kind != PortKind::Scope) {
      if (scene->acceptsDrop(this, port)) {
        pen = QPen(style::kHighlight, 3);
        r += 2;
      }
    }
    p->setPen(pen);
    p->setBrush(c);
    if (port.result)
      p->drawRect(QRectF(port.pos.x() - r + 1, port.pos.y() - r + 1, 2 * r - 2, 2 * r - 2));
    else
      p->drawEllipse(port.pos, r, r);
  }

  // Status badge on the top-right corner; a warning on a block that ran shows amber.
  const QPointF badge(kWidth - 2, 2);
  const bool warned = !warning_.isEmpty() && status_ != BlockStatus::Error;
  p->setPen(QPen(QColor(20, 20, 20), 1.5));
  p->setBrush(warned ? style::kWarning : style::statusColor(status_));
  p->drawEllipse(badge, 8, 8);

  if (lod < kTextLod) {
    paintScreenLabel(p, false);
    return;
  }
  p->setPen(style::kTitle);
  p->setFont(style::boldFont());
  p->drawStaticText(QPointF(8, 5), title_);
  p->setPen(style::kLabel);
  p->setFont(labelFont());
  p->drawStaticText(QPointF(8, 5 + title_.size().height() + 1), idText_);
  if (status_ == BlockStatus::Error || warned) {
    p->setPen(warned ? QColor(20, 20, 20) : QColor(Qt::white));
    p->setFont(style::boldFont());
    p->drawText(QRectF(badge.x() - 8, badge.y() - 8, 16, 16), Qt::AlignCenter, "!");
  }
  p->setPen(style::kLabel);
  p->setFont(labelFont());
  if (status_ == BlockStatus::Error) {
    // The message itself, so that a page with errors can be read without hovering: wrapped in
    // the room below the pins, ending where the result pins begin.
    p->setPen(style::statusColor(BlockStatus::Error).lighter(130));
    const QStringList lines = errorLines();
    const qreal step = QFontMetricsF(labelFont()).lineSpacing();
    qreal y = height_ - kPortRadius - 2 - step * static_cast<qreal>(lines.size());
    for (const QString& line : lines) {
      p->drawText(QRectF(6, y, kWidth - 12, step), Qt::AlignLeft | Qt::AlignVCenter, line);
      y += step;
    }
    p->setPen(style::kLabel);
  } else if (!summary_.isEmpty())
    p->drawText(QRectF(6, height_ - 26, kWidth - 12, 14), Qt::AlignLeft | Qt::AlignVCenter,
                p->fontMetrics().elidedText(summary_, Qt::ElideRight, int(kWidth - 12)));
  for (const Port& port : ports_) {
    if (port.result) continue;
    const QStaticText& name = sharedText(port.label, false);
    const qreal h = name.size().height();
    if (port.desc->direction == PortDirection::Input)
      p->drawStaticText(QPointF(port.pos.x() + 9, port.pos.y() - h / 2), name);
    else
      p->drawStaticText(QPointF(port.pos.x() - 9 - name.size().width(), port.pos.y() - h / 2),
                        name);
  }
}

}  // namespace qs::editor
