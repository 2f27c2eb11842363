#include "editor_bridge/AttributeEditor.h"

#include <QCheckBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHelpEvent>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalBlocker>
#include <QToolTip>
#include <QVBoxLayout>
#include <climits>

#include "editor_bridge/PageModel.h"
#include "runtime/AttrJson.h"
#include "runtime/Error.h"
#include "runtime/Npy.h"
#include "runtime/TensorStats.h"

namespace qs::editor {

AttrSpinBox::AttrSpinBox(std::optional<double> min, std::optional<double> max, QWidget* parent)
    : QSpinBox(parent), min_(min), max_(max) {
  setRange(INT_MIN, INT_MAX);
  setKeyboardTracking(false);
  setAccelerated(true);
}

void AttrSpinBox::stepBy(int steps) {
  const qint64 next = static_cast<qint64>(value()) + steps;
  if ((min_ && next < *min_) || (max_ && next > *max_)) return;  // arrows stop at the range
  QSpinBox::stepBy(steps);
}

QAbstractSpinBox::StepEnabled AttrSpinBox::stepEnabled() const {
  StepEnabled e = StepNone;
  if (!min_ || value() > *min_) e |= StepDownEnabled;
  if (!max_ || value() < *max_) e |= StepUpEnabled;
  return e;
}

namespace {
bool isTensorEditor(const BlockDescriptor* d) {
  if (!d) return false;
  const AttrDescriptor* shape = d->findAttr("shape");
  const AttrDescriptor* values = d->findAttr("values");
  return shape && values && shape->type == AttrType::IntList && values->type == AttrType::ValueList;
}

QString rangeText(const AttrDescriptor& a) {
  if (a.minValue && a.maxValue) return QString("%1..%2").arg(*a.minValue).arg(*a.maxValue);
  if (a.minValue) return QString(">= %1").arg(*a.minValue);
  if (a.maxValue) return QString("<= %1").arg(*a.maxValue);
  return {};
}
}  // namespace

QString attrFieldText(const AttrDescriptor& a, const Json* value) {
  if (!value) {
    if (a.defaultValue && (a.type == AttrType::Float || a.type == AttrType::IntList ||
                           a.type == AttrType::FloatList || a.type == AttrType::ValueList ||
                           a.type == AttrType::String))
      return QString::fromStdString(attrValueToString(*a.defaultValue));
    return {};
  }
  if (value->is_string() && a.type == AttrType::String)
    return QString::fromStdString(value->get<std::string>());
  if (value->is_array()) {
    QStringList parts;
    for (const Json& e : *value) parts << QString::fromStdString(writeJson(e, false));
    return "[" + parts.join(", ") + "]";
  }
  return QString::fromStdString(writeJson(*value, false));
}

AttributeEditor::AttributeEditor(PageModel* model, QWidget* parent)
    : QWidget(parent), model_(model) {
  auto* layout = new QVBoxLayout(this);
  header_ = new QLabel(this);
  header_->setWordWrap(true);
  header_->setTextFormat(Qt::RichText);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  status_->setObjectName("blockStatus");
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  message_ = new QLabel(this);
  message_->setObjectName("attrMessage");
  message_->setWordWrap(true);
  message_->setStyleSheet("color: rgb(255, 110, 90);");
  message_->hide();
  layout->addWidget(header_);
  layout->addWidget(status_);
  layout->addWidget(message_);
  layout->addStretch();
  connect(model_, &PageModel::blockAttrsChanged, this, [this](const BlockId& id) {
    if (block_ && *block_ == id) refreshValues();
  });
  connect(model_, &PageModel::blockRemoved, this, [this](const BlockId& id) {
    if (block_ && *block_ == id)
      QMetaObject::invokeMethod(
          this, [this] { showBlock({}); }, Qt::QueuedConnection);
  });
  connect(model_, &PageModel::pageReset, this, [this] { showBlock({}); });
  showBlock({});
}

QWidget* AttributeEditor::field(const std::string& name) const {
  auto it = fields_.find(name);
  return it == fields_.end() ? nullptr : it->second;
}

QString AttributeEditor::message() const {
  return message_->isVisible() ? message_->text() : QString();
}

void AttributeEditor::showBlock(const std::optional<BlockId>& id) {
  if (id && !model_->page().contains(*id)) return showBlock({});
  block_ = id;
  message_->hide();
  rebuild();
}

void AttributeEditor::setBlockStatus(BlockStatus status, const std::string& error) {
  if (!block_) return status_->clear();
  if (status == BlockStatus::Error) {
    status_->setStyleSheet("color: rgb(255, 110, 90);");
    status_->setText(tr("Error: %1").arg(QString::fromStdString(error)));
  } else {
    status_->setStyleSheet({});
    status_->setText(tr("Status: %1").arg(QString::fromStdString(statusName(status))));
  }
}

void AttributeEditor::rebuild() {
  if (form_) {
    form_->hide();
    form_->deleteLater();  // may be called from one of its own fields' signals
    form_ = nullptr;
  }
  fields_.clear();
  desc_ = nullptr;
  if (!block_) {
    header_->setText(tr("<i>Select a block to edit its attributes.</i>"));
    status_->clear();
    return;
  }
  const Block* b = model_->page().find(*block_);
  desc_ = model_->registry().find(b->type);
  header_->setText(
      QString("<b>%1</b> &nbsp;<span style='color:gray'>%2</span>")
          .arg(QString::fromStdString(b->id.str()).toHtmlEscaped(),
               QString::fromStdString(b->type).toHtmlEscaped()) +
      (desc_ ? "<br><small>" + QString::fromStdString(desc_->summary).toHtmlEscaped() + "</small>"
             : tr("<br>Unknown block type: its attributes are kept as they are.")));
  if (!desc_) return;

  form_ = new QWidget(this);
  auto* form = new QFormLayout(form_);
  form->setContentsMargins(0, 0, 0, 0);
  const bool tensor = isTensorEditor(desc_);
  for (const AttrDescriptor& a : desc_->attrs) {
    const QString name = QString::fromStdString(a.name);
    QWidget* w = nullptr;
    const QString tip = QString::fromStdString(a.doc) +
                        (rangeText(a).isEmpty() ? "" : "\n" + tr("Range: %1").arg(rangeText(a)));
    switch (a.type) {
      case AttrType::Int: {
        auto* spin = new AttrSpinBox(a.minValue, a.maxValue, form_);
        // Without keyboard tracking this fires for an arrow step, or once the typed text is
        // finished (Enter, leaving the field).
        connect(spin, &QSpinBox::valueChanged, this,
                [this, n = a.name](int v) { commit(n, Json(static_cast<int64_t>(v))); });
        w = spin;
        break;
      }
      case AttrType::Bool: {
        auto* box = new QCheckBox(form_);
        connect(box, &QCheckBox::toggled, this,
                [this, n = a.name](bool on) { commit(n, Json(on)); });
        w = box;
        break;
      }
      default: {
        auto* edit = new QLineEdit(form_);
        const AttrDescriptor* ad = &a;
        auto apply = [this, edit, ad] {
          const Block* blk = model_->page().find(*block_);
          auto it = blk->attrs.find(ad->name);
          const QString current = attrFieldText(*ad, it == blk->attrs.end() ? nullptr : &*it);
          if (edit->text() == current) return;
          QString error;
          std::optional<Json> v = parseField(*ad, edit->text(), &error);
          if (!error.isEmpty()) {
            refuse(error);
            refreshValues();
            return;
          }
          commit(ad->name, v);
        };
        connect(edit, &QLineEdit::editingFinished, this, apply);
        if (a.type == AttrType::IntList || a.type == AttrType::FloatList ||
            a.type == AttrType::ValueList)
          edit->setPlaceholderText(tensor && a.name == "shape" ? tr("e.g. [2, 4]; empty: rank 1")
                                                               : tr("e.g. [1, 2, 3]"));
        w = edit;
        break;
      }
    }
    w->setObjectName("attr_" + name);
    w->setToolTip(tip);
    if (qobject_cast<QLineEdit*>(w)) w->installEventFilter(this);
    QString label = name;
    if (!rangeText(a).isEmpty()) label += " (" + rangeText(a) + ")";
    form->addRow(label, w);
    fields_[a.name] = w;
  }
  if (tensor) {
    auto* load = new QPushButton(tr("Load .npy..."), form_);
    load->setObjectName("loadNpy");
    connect(load, &QPushButton::clicked, this, [this] {
      const QString path =
          QFileDialog::getOpenFileName(this, tr("Load tensor"), {}, tr("NumPy arrays (*.npy)"));
      if (!path.isEmpty()) loadNpy(path);
    });
    form->addRow(QString(), load);
  }
  static_cast<QVBoxLayout*>(layout())->insertWidget(3, form_);
  refreshValues();
}

void AttributeEditor::refreshValues() {
  if (!block_ || !desc_) return;
  const Block* b = model_->page().find(*block_);
  if (!b) return;
  for (const AttrDescriptor& a : desc_->attrs) {
    QWidget* w = field(a.name);
    if (!w) continue;
    QSignalBlocker block(w);
    auto it = b->attrs.find(a.name);
    const Json* v = it == b->attrs.end() ? nullptr : &*it;
    if (auto* spin = qobject_cast<QSpinBox*>(w)) {
      int64_t n = 0;
      if (v && v->is_number_integer())
        n = v->get<int64_t>();
      else if (a.defaultValue)
        n = std::get<int64_t>(*a.defaultValue);
      spin->setValue(static_cast<int>(n));
    } else if (auto* box = qobject_cast<QCheckBox*>(w)) {
      bool on = false;
      if (v && v->is_boolean())
        on = v->get<bool>();
      else if (a.defaultValue)
        on = std::get<bool>(*a.defaultValue);
      box->setChecked(on);
    } else if (auto* edit = qobject_cast<QLineEdit*>(w)) {
      edit->setText(attrFieldText(a, v));
      edit->setModified(false);
    }
  }
}

bool AttributeEditor::eventFilter(QObject* watched, QEvent* event) {
  auto* edit = qobject_cast<QLineEdit*>(watched);
  if (!edit || event->type() != QEvent::ToolTip) return QWidget::eventFilter(watched, event);
  // The text's room: the field less its frame and text margins (a few pixels each side).
  const int room = edit->contentsRect().width() - 8;
  const bool cut = edit->fontMetrics().horizontalAdvance(edit->text()) > room;
  QToolTip::showText(static_cast<QHelpEvent*>(event)->globalPos(),
                     cut ? edit->toolTip() + "\n\n" + edit->text() : edit->toolTip(), edit);
  return true;
}

std::optional<Json> AttributeEditor::parseField(const AttrDescriptor& a, const QString& text,
                                                QString* error) {
  const QString t = text.trimmed();
  if (t.isEmpty()) return std::nullopt;  // back to the default (or absent)
  const QString what = QString::fromStdString(a.name);
  try {
    switch (a.type) {
      case AttrType::String:
        return Json(t.toStdString());
      case AttrType::Float: {
        // Numbers are read from their decimal text straight to float32, like page files.
        try {
          Json n = parseJson(t.toStdString(), a.name);
          if (n.is_number()) return n;
        } catch (const Error&) {
        }
        Json v(t.toStdString());
        floatFromJson(v, "attribute '" + a.name + "'");  // throws for text that is no number
        return v;
      }
      case AttrType::IntList:
      case AttrType::FloatList:
      case AttrType::ValueList: {
        QString body = t;
        if (body.startsWith('[') && body.endsWith(']')) body = body.mid(1, body.size() - 2);
        Json list = Json::array();
        const QStringList tokens = body.split(QRegularExpression("[,\\s]+"), Qt::SkipEmptyParts);
        for (const QString& tok : tokens) {
          Json n;
          try {
            n = parseJson(tok.toStdString(), a.name);
          } catch (const Error&) {
            n = Json(tok.toStdString());
          }
          if (a.type == AttrType::IntList) {
            if (!n.is_number_integer()) {
              *error = tr("%1: '%2' is not an integer").arg(what, tok);
              return std::nullopt;
            }
          } else if (!n.is_number() && !(a.type == AttrType::ValueList && n.is_boolean())) {
            floatFromJson(n, "attribute '" + a.name + "': '" + tok.toStdString() + "'");
          }
          list.push_back(std::move(n));
        }
        return list;
      }
      default:
        break;
    }
  } catch (const Error& e) {
    *error = QString::fromStdString(e.what());
  }
  if (error->isEmpty()) *error = tr("%1: cannot read '%2'").arg(what, t);
  return std::nullopt;
}

bool AttributeEditor::commit(const std::string& name, std::optional<Json> value) {
  if (!block_) return false;
  const Block* b = model_->page().find(*block_);
  if (!b) return false;
  Json attrs = b->attrs;
  if (value)
    attrs[name] = *value;
  else
    attrs.erase(name);
  return commitAttrs(
      attrs,
      tr("Set %1.%2").arg(QString::fromStdString(b->id.str()), QString::fromStdString(name)));
}

bool AttributeEditor::commitAttrs(const Json& attrs, const QString& text) {
  const Block* b = model_->page().find(*block_);
  if (desc_) {
    try {
      resolveAttrs(*desc_, attrs);
    } catch (const Error& e) {
      refuse(QString::fromStdString(b->id.str() + ": " + e.what()));
      refreshValues();
      return false;
    }
  }
  message_->hide();
  message_->clear();
  model_->setAttrs(*block_, attrs, text);
  return true;
}

void AttributeEditor::refuse(const QString& why) {
  message_->setText(tr("Refused: %1").arg(why));
  message_->show();
}

bool AttributeEditor::loadNpy(const QString& path) {
  if (!block_) return false;
  try {
    const Tensor t = readNpy(path.toStdString());
    Json attrs = model_->page().find(*block_)->attrs;
    Json shape = Json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    // Each element as the page writes it: integers as integers, bools as true/false.
    Json values = Json::array();
    const bool isFloat = t.dtype() == DType::Float32 || t.dtype() == DType::Float16;
    for (int64_t i = 0; i < t.size(); ++i) {
      const double v = elementValue(t, i);
      if (isFloat)
        values.push_back(floatToJson(static_cast<float>(v)));
      else if (t.dtype() == DType::Bool)
        values.push_back(v != 0);
      else if (t.dtype() == DType::Int64)
        values.push_back(t.as<int64_t>()[i]);  // exact beyond 2^53
      else
        values.push_back(static_cast<int64_t>(v));
    }
    attrs.erase("npy");
    attrs["shape"] = std::move(shape);
    attrs["values"] = std::move(values);
    if (t.dtype() == DType::Float32)
      attrs.erase("dtype");
    else
      attrs["dtype"] = dtypeName(t.dtype());
    return commitAttrs(attrs, tr("Load %1").arg(QFileInfo(path).fileName()));
  } catch (const Error& e) {
    refuse(QString::fromStdString(e.what()));
    return false;
  }
}

}  // namespace qs::editor
