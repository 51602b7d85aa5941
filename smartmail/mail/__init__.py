"""What a mail is and says: parse, reply text, guard, tokens, proof, composing."""
