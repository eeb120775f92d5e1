"""OutputTag (PyFlink's pyflink.datastream.output_tag): names a side output.

A ProcessFunction (or any function yielding records) sends a value to a side
output by yielding ``(tag, value)``; ``stream.get_side_output(tag)`` is the
stream of those values.  A window's late records go to the tag given to
``side_output_late_data``.  Tags are equal when their ids are."""
from sluice._native import native as _native
from sluice.common.typeinfo import check_type_info


class OutputTag(object):
    def __init__(self, tag_id, type_info=None):
        if not isinstance(tag_id, str) or not tag_id:
            raise ValueError("an OutputTag needs a non-empty str id, got %r" % (tag_id,))
        self.tag_id = tag_id
        self.type_info = check_type_info(type_info, "an OutputTag's type_info")

    def get_tag_id(self):
        return self.tag_id

    def __eq__(self, other):
        return isinstance(other, OutputTag) and other.tag_id == self.tag_id

    def __hash__(self):
        return hash(self.tag_id)

    def __repr__(self):
        return "OutputTag(%r)" % self.tag_id


_native.setup_tags(OutputTag)
