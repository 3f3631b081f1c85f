"""Ground formula → SDD: vtree choice, PySDD compilation and the saved artifact."""
