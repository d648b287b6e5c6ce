#!/usr/bin/env python3
"""The house's figures, for issue notes: public/package declarations per module, what `import FirstFrame` brings,
and the longest functions. Line-based (no Swift parser): a declaration is a line whose first word after attributes
is `public`/`open`/`package` (not `import`/`extension`); a function's length runs from its `func`/`init` line to the
brace that closes its body, skipping braces inside string literals."""
import os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
src = os.path.join(root, "Sources")
decl = re.compile(r'^\s*(@\w+(\([^)]*\))?\s+)*(public|open|package)\b(?!\s+(import|extension)\b)(\s|\()')
fn = re.compile(r'^\s*(@\w+(\([^)]*\))?\s+)*((public|open|package|private|fileprivate|internal|static|override|mutating|nonisolated|final|convenience|required)\s+)*(func\s+[^\s(<]+|init[?!]?|deinit)\b')

def strip_strings(line):
    return re.sub(r'"(\\.|[^"\\])*"', '""', line.split("//")[0] if '"' not in line else line)

counts, functions = {}, []
for module in sorted(os.listdir(src)):
    path = os.path.join(src, module)
    pub = pkg = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            if not name.endswith(".swift"):
                continue
            file = os.path.join(dirpath, name)
            lines = open(file, encoding="utf-8").read().split("\n")
            for i, line in enumerate(lines):
                m = decl.match(line)
                if m:
                    if m.group(3) == "package": pkg += 1
                    else: pub += 1
                f = fn.match(line)
                if f:
                    depth, opened = 0, False
                    for j in range(i, len(lines)):
                        text = strip_strings(lines[j])
                        if not opened and j > i and not text.strip().startswith(("where", ")", "->", "throws", "async")) and "{" not in text and re.match(r'^\s*(public|func|var|let|case|@|}|$)', text) and j > i + 8:
                            break
                        for ch in text:
                            if ch == "{": depth += 1; opened = True
                            elif ch == "}": depth -= 1
                        if opened and depth <= 0:
                            functions.append((j - i + 1, os.path.relpath(file, root), i + 1, f.group(5)))
                            break
    if pub or pkg:
        counts[module] = (pub, pkg)

print("module                 public  package")
for module, (pub, pkg) in counts.items():
    print(f"{module:22} {pub:6} {pkg:8}")
exported = ["FirstFrame"]
exports = os.path.join(src, "FirstFrame", "Exports.swift")
if os.path.exists(exports):
    exported += re.findall(r'@_exported\s+(?:public\s+)?import\s+(\w+)', open(exports).read())
print(f"`import FirstFrame` brings {sum(counts.get(m, (0, 0))[0] for m in set(exported))} public declarations "
      f"({', '.join(sorted(set(exported)))})")
print("longest functions:")
for length, file, line, name in sorted(functions, reverse=True)[:8]:
    print(f"  {length:4} lines  {file}:{line}  {name}")
