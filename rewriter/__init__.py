"""Pure rewriting: origin mapping, HTML/CSS/header rewriting, runtime injection. No I/O."""
