"""Opening a 500-node, 600-connection routine in the editor: first paint, full repaint, memory.

    QT_QPA_PLATFORM=offscreen python -m tests.bench.bench_editor
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import psutil

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from app.paths import Paths
from app.routine import parse_routine
from app.services import Kianax
from app.ui.main_window import MainWindow
from app.ui.theme import apply_theme


def big_routine(nodes: int = 500, connections: int = 600):
    plugins = ["core.transform", "core.condition", "core.merge", "http.request", "core.delay"]
    configs = {"core.transform": {"value": "{{ input }}"},
               "core.condition": {"expression": "{{ input > 1 }}"}, "core.merge": {},
               "http.request": {"url": "http://127.0.0.1:9/x"}, "core.delay": {"seconds": 1}}
    doc_nodes = []
    for i in range(nodes):
        plugin = plugins[i % len(plugins)]
        doc_nodes.append({"id": f"n{i}", "plugin": plugin, "config": configs[plugin],
                          "position": [(i % 25) * 260, (i // 25) * 140]})
    conns, i = [], 0
    while len(conns) < connections:
        source, target = i % (nodes - 1), (i * 7 + 1) % nodes
        i += 1
        if target <= source:
            continue
        port = {"core.condition": "true"}.get(doc_nodes[source]["plugin"], "out")
        conn = {"source": f"n{source}", "source_port": port, "target": f"n{target}"}
        if conn not in conns:
            conns.append(conn)
    return parse_routine({"format": "kianax/routine@1", "id": "big", "name": "Big",
                          "nodes": doc_nodes, "connections": conns})


def main() -> None:
    app = QApplication([])
    apply_theme(app)
    process = psutil.Process()
    routine = big_routine()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        window = MainWindow(Kianax(Paths(root / "d", root / "c", root / "l")))
        window.resize(1400, 860)
        window.show()
        app.processEvents()
        rss_before = process.memory_info().rss
        began = time.perf_counter()
        window._show(routine, None)
        window.view.viewport().repaint()
        app.processEvents()
        first_paint = time.perf_counter() - began
        rss_after = process.memory_info().rss
        repaints = []
        image = QImage(window.view.viewport().size(), QImage.Format.Format_ARGB32)
        for _ in range(10):
            began = time.perf_counter()
            painter = QPainter(image)
            window.view.render(painter)
            painter.end()
            repaints.append(time.perf_counter() - began)
        window.editor.undo_stack.setClean()
        window.request_quit()
        window.close()
        window.services.close()
    print("500 nodes, 600 connections (offscreen, 1400x860 window)")
    print(f"open to first paint: {first_paint * 1000:.0f} ms  (aim < 1000 ms)")
    print(f"full repaint, fitted: {statistics.median(repaints) * 1000:.0f} ms median of 10")
    print(f"memory for the open routine: {(rss_after - rss_before) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
