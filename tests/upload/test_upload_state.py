"""What status and ls show of a run's rejections: the latest one, however many came before."""

from __future__ import annotations

from swanlabd.upload.uploadstate import MAX_REJECTIONS, Rejection, UploadState


def rejection(n: int) -> Rejection:
    return Rejection(lane="scalar", what="metrics", status=400, code="bad", message=f"rejection {n}", items=1)


def test_last_rejection_is_the_latest_and_what_is_stored_stays_bounded():
    st = UploadState(run_id="r1")
    assert st.last_rejection == ""
    total = MAX_REJECTIONS * 3 + 7
    for n in range(1, total + 1):
        st.add_rejection(rejection(n))
        assert st.last_rejection.endswith(f"rejection {n}")
    assert st.rejected_total == total
    assert len(st.rejected) == MAX_REJECTIONS
    assert st.rejected[0].message == "rejection 1"  # the first ones are kept: where trouble began
    again = UploadState.from_json(st.to_json())
    assert again.last_rejection.endswith(f"rejection {total}") and again.rejected_total == total
