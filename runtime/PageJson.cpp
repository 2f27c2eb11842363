#include "runtime/PageJson.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>

#include "runtime/Error.h"
#include "runtime/FileIo.h"

namespace qs {

namespace {

const char* kFormat = "quantspace-page";

std::string typeOf(const Json& v) {
  return v.type_name();
}

Json takeExtra(const Json& obj, std::initializer_list<const char*> known) {
  Json extra = Json::object();
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool isKnown = false;
    for (const char* k : known) isKnown = isKnown || it.key() == k;
    if (!isKnown) extra[it.key()] = it.value();
  }
  return extra;
}

// nlohmann::json keeps keys sorted, which is the stable order we save attributes and unknown keys
// in. Converted directly rather than through text so that nothing (a NaN put there through the
// API, a double that is not a float32) is changed on the way.
OrderedJson toOrdered(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: {
      OrderedJson o = OrderedJson::object();
      for (auto it = v.begin(); it != v.end(); ++it) o[it.key()] = toOrdered(it.value());
      return o;
    }
    case Json::value_t::array: {
      OrderedJson a = OrderedJson::array();
      for (const Json& e : v) a.push_back(toOrdered(e));
      return a;
    }
    case Json::value_t::string:
      return v.get<std::string>();
    case Json::value_t::boolean:
      return v.get<bool>();
    case Json::value_t::number_integer:
      return v.get<int64_t>();
    case Json::value_t::number_unsigned:
      return v.get<uint64_t>();
    case Json::value_t::number_float:
      return v.get<double>();
    default:
      return nullptr;
  }
}

PortRef parsePortRef(const Json& v, const std::string& where) {
  if (!v.is_array() || v.size() != 2 || !v[0].is_string() || !v[1].is_string())
    throw Error(where + " must be [\"block\", \"port\"], not " + jsonSnippet(v));
  return {BlockId(v[0].get<std::string>()), PortName(v[1].get<std::string>())};
}

using ErrorAt = std::function<Error(const std::string&)>;

void checkFormat(const Json& doc, const ErrorAt& err) {
  if (!doc.is_object())
    throw err("not a Quant Space page: the top level is a " + typeOf(doc) + ", not an object");
  auto fmt = doc.find("format");
  if (fmt == doc.end() || !fmt->is_string() || fmt->get<std::string>() != kFormat)
    throw err(std::string("not a Quant Space page: \"format\" must be \"") + kFormat + "\"");
  auto ver = doc.find("version");
  if (ver == doc.end() || !ver->is_number_integer())
    throw err("the page has no integer \"version\"");
  if (ver->get<int64_t>() != kPageFormatVersion)
    throw err("unknown page format version " + jsonSnippet(*ver) +
              " (this Quant Space reads version " + std::to_string(kPageFormatVersion) + ")");
}

PageScope readScope(const Json& sc, const std::string& source, const ErrorAt& err,
                    std::vector<std::string>* warnings) {
  if (!sc.is_object()) throw err("\"scope\" must be an object, not " + typeOf(sc));
  PageScope scope;
  if (auto t = sc.find("threads"); t != sc.end()) {
    // A whole number, written as such (4, not 4.0 or "4"): a fraction or a string would
    // otherwise be silently rounded or ignored.
    const bool whole = t->is_number_integer();
    const int64_t v = whole ? t->get<int64_t>() : -1;
    if (!whole || v < 0 || v > PageScope::kMaxThreads)
      throw err("\"scope\": \"threads\" must be a whole number from 0 (one per core) to " +
                std::to_string(PageScope::kMaxThreads) + ", not " + jsonSnippet(*t));
    scope.threads = static_cast<int>(v);
  }
  scope.extra = takeExtra(sc, {"threads"});
  if (warnings)
    for (auto it = scope.extra.begin(); it != scope.extra.end(); ++it)
      warnings->push_back(source + ": unknown key \"" + it.key() + "\" in \"scope\" kept as it is");
  return scope;
}

Block readBlock(const Json& b, const std::string& where, const std::string& source,
                const ErrorAt& err, std::vector<std::string>* warnings) {
  if (!b.is_object()) throw err(where + " must be an object, not " + typeOf(b));
  auto id = b.find("id");
  if (id == b.end() || !id->is_string()) throw err(where + " has no string \"id\"");
  const std::string idText = id->get<std::string>();
  auto type = b.find("type");
  if (type == b.end() || !type->is_string())
    throw err("block '" + idText + "' has no string \"type\"");
  Block block;
  block.id = BlockId(idText);
  block.type = type->get<std::string>();
  if (auto pos = b.find("position"); pos != b.end()) {
    // Positions are layout: float32 is plenty, and rounding them on load (not on save) is what
    // makes a loaded page save back to the same bytes.
    auto coord = [&](size_t k) {
      return pos->is_array() && pos->size() == 2 && (*pos)[k].is_number()
                 ? static_cast<float>((*pos)[k].get<double>())
                 : NAN;
    };
    const float x = coord(0), y = coord(1);
    if (!std::isfinite(x) || !std::isfinite(y))
      throw err("block '" + idText + "': \"position\" must be [x, y] with finite numbers, not " +
                jsonSnippet(*pos));
    block.position = std::array<double, 2>{x, y};
  }
  if (auto attrs = b.find("attrs"); attrs != b.end()) {
    if (!attrs->is_object())
      throw err("block '" + idText + "': \"attrs\" must be an object, not " + typeOf(*attrs));
    block.attrs = *attrs;
  }
  block.extra = takeExtra(b, {"id", "type", "position", "attrs"});
  if (warnings)
    for (auto it = block.extra.begin(); it != block.extra.end(); ++it)
      warnings->push_back(source + ": block '" + idText + "': unknown key \"" + it.key() +
                          "\" kept as it is");
  return block;
}

void readLinks(const Json& links, Page& page, const std::string& source, const ErrorAt& err,
               std::vector<std::string>* warnings, const PageReadOptions& options) {
  if (!links.is_array()) throw err("\"links\" must be a list, not " + typeOf(links));
  for (size_t i = 0; i < links.size(); ++i) {
    const Json& l = links[i];
    const std::string where = "links[" + std::to_string(i) + "]";
    if (!l.is_object()) throw err(where + " must be an object, not " + typeOf(l));
    auto from = l.find("from");
    auto to = l.find("to");
    if (from == l.end() || to == l.end()) throw err(where + " needs \"from\" and \"to\"");
    Json extra = takeExtra(l, {"from", "to"});
    if (!extra.empty()) throw err(where + " has unknown key \"" + extra.begin().key() + "\"");
    Link link{parsePortRef(*from, where + ".from"), parsePortRef(*to, where + ".to")};
    const bool dangling = !page.contains(link.from.block) || !page.contains(link.to.block);
    try {
      if (dangling && options.keepDanglingLinks) {
        const BlockId& missing = page.contains(link.from.block) ? link.to.block : link.from.block;
        page.addDanglingLink(link);
        if (warnings)
          warnings->push_back(source + ": " + where + " (" + linkText(link) + ") names block '" +
                              missing.str() +
                              "', which is not on the page; the link is kept, drawn broken");
      } else {
        page.addLink(std::move(link));
      }
    } catch (const Error& e) {
      throw err(where + ": " + e.what());
    }
  }
}

bool isHexColor(const std::string& c) {
  if (c.size() != 7 || c[0] != '#') return false;
  for (size_t i = 1; i < 7; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(c[i]))) return false;
  return true;
}

// Frames are layout: a member that is not a block of the page is dropped with a warning rather
// than refusing the page; a malformed frame is an error like any malformed part of the file.
void readFrames(const Json& frames, Page& page, const std::string& source, const ErrorAt& err,
                std::vector<std::string>* warnings) {
  if (!frames.is_array()) throw err("\"frames\" must be a list, not " + typeOf(frames));
  for (size_t i = 0; i < frames.size(); ++i) {
    const Json& f = frames[i];
    const std::string where = "frames[" + std::to_string(i) + "]";
    if (!f.is_object()) throw err(where + " must be an object, not " + typeOf(f));
    Frame frame;
    if (auto t = f.find("title"); t != f.end()) {
      if (!t->is_string()) throw err(where + ": \"title\" must be a string, not " + typeOf(*t));
      frame.title = t->get<std::string>();
    }
    if (auto c = f.find("color"); c != f.end()) {
      if (!c->is_string() || !isHexColor(c->get<std::string>()))
        throw err(where + ": \"color\" must be a string \"#rrggbb\", not " + jsonSnippet(*c));
      frame.color = c->get<std::string>();
    }
    auto blocks = f.find("blocks");
    if (blocks == f.end() || !blocks->is_array())
      throw err(where + " needs \"blocks\", a list of block ids");
    for (const Json& id : *blocks) {
      if (!id.is_string()) throw err(where + ": \"blocks\" must hold ids, not " + jsonSnippet(id));
      const BlockId member(id.get<std::string>());
      if (std::find(frame.blocks.begin(), frame.blocks.end(), member) != frame.blocks.end())
        throw err(where + " names block '" + member.str() + "' twice");
      if (!page.contains(member)) {
        if (warnings)
          warnings->push_back(source + ": " + where + " names block '" + member.str() +
                              "', which is not on the page; left out of the frame");
        continue;
      }
      frame.blocks.push_back(member);
    }
    frame.extra = takeExtra(f, {"title", "color", "blocks"});
    if (warnings)
      for (auto it = frame.extra.begin(); it != frame.extra.end(); ++it)
        warnings->push_back(source + ": " + where + ": unknown key \"" + it.key() +
                            "\" kept as it is");
    page.frames.push_back(std::move(frame));
  }
}

OrderedJson framesToJson(const Page& page) {
  OrderedJson frames = OrderedJson::array();
  for (const Frame& f : page.frames) {
    OrderedJson jf;
    jf["title"] = f.title;
    jf["color"] = f.color;
    OrderedJson ids = OrderedJson::array();
    for (const BlockId& id : f.blocks)
      if (page.contains(id)) ids.push_back(id.str());
    jf["blocks"] = std::move(ids);
    for (auto it = f.extra.begin(); it != f.extra.end(); ++it) jf[it.key()] = toOrdered(it.value());
    frames.push_back(std::move(jf));
  }
  return frames;
}

}  // namespace

Page pageFromJson(const Json& doc, const std::string& source, std::vector<std::string>* warnings,
                  const PageReadOptions& options) {
  const ErrorAt err = [&](const std::string& m) { return Error(source + ": " + m); };
  checkFormat(doc, err);
  Page page;
  if (auto n = doc.find("name"); n != doc.end()) {
    if (!n->is_string()) throw err("\"name\" must be a string");
    page.name = n->get<std::string>();
  }
  if (auto sc = doc.find("scope"); sc != doc.end())
    page.scope = readScope(*sc, source, err, warnings);
  page.extra = takeExtra(doc, {"format", "version", "name", "scope", "blocks", "links", "frames"});
  if (warnings)
    for (auto it = page.extra.begin(); it != page.extra.end(); ++it)
      warnings->push_back(source + ": unknown top-level key \"" + it.key() + "\" kept as it is");

  auto blocks = doc.find("blocks");
  if (blocks == doc.end()) throw err("the page has no \"blocks\" list");
  if (!blocks->is_array()) throw err("\"blocks\" must be a list, not " + typeOf(*blocks));
  for (size_t i = 0; i < blocks->size(); ++i) {
    Block block =
        readBlock((*blocks)[i], "blocks[" + std::to_string(i) + "]", source, err, warnings);
    try {
      page.addBlock(std::move(block));
    } catch (const Error& e) {
      throw err(e.what());
    }
  }
  if (auto links = doc.find("links"); links != doc.end())
    readLinks(*links, page, source, err, warnings, options);
  if (auto frames = doc.find("frames"); frames != doc.end())
    readFrames(*frames, page, source, err, warnings);
  return page;
}

LoadedPage parsePage(std::string_view text, const std::string& source,
                     const PageReadOptions& options) {
  LoadedPage loaded;
  Json doc = parseJson(text, source);
  loaded.page = pageFromJson(doc, source, &loaded.warnings, options);
  return loaded;
}

// A page file is text that describes blocks; large tensors belong in .npy files beside it. The cap
// also stops a page path that names a device or a pipe that never ends (/dev/zero).
constexpr uint64_t kMaxPageBytes = uint64_t{1} << 30;

LoadedPage loadPage(const std::filesystem::path& path, const PageReadOptions& options) {
  const std::string text = readFile(path, kMaxPageBytes);
  LoadedPage loaded = parsePage(text, path.string(), options);
  loaded.dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  return loaded;
}

OrderedJson pageToJson(const Page& page) {
  OrderedJson doc;
  doc["format"] = kFormat;
  doc["version"] = kPageFormatVersion;
  doc["name"] = page.name;
  if (page.scope) {
    OrderedJson scope;
    scope["threads"] = page.scope->threads;
    for (auto it = page.scope->extra.begin(); it != page.scope->extra.end(); ++it)
      scope[it.key()] = toOrdered(it.value());
    doc["scope"] = std::move(scope);
  }
  OrderedJson blocks = OrderedJson::array();
  for (const Block& b : page.blocks()) {
    OrderedJson jb;
    jb["id"] = b.id.str();
    jb["type"] = b.type;
    if (b.position)
      jb["position"] = {static_cast<double>(static_cast<float>((*b.position)[0])),
                        static_cast<double>(static_cast<float>((*b.position)[1]))};
    jb["attrs"] = toOrdered(b.attrs);
    for (auto it = b.extra.begin(); it != b.extra.end(); ++it) jb[it.key()] = toOrdered(it.value());
    blocks.push_back(std::move(jb));
  }
  doc["blocks"] = std::move(blocks);
  OrderedJson links = OrderedJson::array();
  for (const auto* list : {&page.links(), &page.danglingLinks()}) {
    for (const Link& l : *list) {
      OrderedJson jl;
      jl["from"] = {l.from.block.str(), l.from.port.str()};
      jl["to"] = {l.to.block.str(), l.to.port.str()};
      links.push_back(std::move(jl));
    }
  }
  doc["links"] = std::move(links);
  // Only when there are frames, so that a page without any saves back to the same bytes.
  if (!page.frames.empty()) doc["frames"] = framesToJson(page);
  for (auto it = page.extra.begin(); it != page.extra.end(); ++it)
    doc[it.key()] = toOrdered(it.value());
  return doc;
}

std::string pageToText(const Page& page) {
  return writeJson(pageToJson(page));
}

void savePage(const Page& page, const std::filesystem::path& path, bool keepBackup) {
  writeFileAtomically(path, pageToText(page), keepBackup);
}

}  // namespace qs
