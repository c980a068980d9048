"""An LLM eval loop: generations as Text (with captions), a report as Html from a string and a file."""

from pathlib import Path

import swanlab

prompts = ["你好，介绍一下你自己", "What is 2 + 2?", "Write a haiku about GPUs"]
Path("report.html").write_text("<html><body><h1>Eval report</h1><p>3 prompts</p></body></html>")

swanlab.init(project="text_and_html", experiment_name="llm-eval")
for step in range(3):
    answers = [f"step {step} answer to: {p}" for p in prompts]
    swanlab.log(
        {
            "generations": [swanlab.Text(a, caption=p) for a, p in zip(answers, prompts, strict=True)],
            "sample": swanlab.Text(f"**markdown** sample {step}"),
            "eval/score": 0.2 * step,
        },
        step=step,
    )
swanlab.log({"report": swanlab.Html("<table><tr><td>acc</td><td>0.91</td></tr></table>", caption="table")}, step=3)
swanlab.log({"report": swanlab.Html("report.html")}, step=4)
swanlab.log_text(key="notes", data="trained on 中文 and English", caption="note", step=4)
swanlab.log_html(key="page", data="<b>done</b>", step=4)
swanlab.finish()
