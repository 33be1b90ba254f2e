"""The fake top-level node lives in the product now (``idnest devtools toplevel``);
tests import it from here as before."""

from portal.devtools.toplevel import FakeTopLevelNode, envelope, item, template

__all__ = ["FakeTopLevelNode", "envelope", "item", "template"]
