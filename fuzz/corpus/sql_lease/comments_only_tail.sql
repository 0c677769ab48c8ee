SELECT 1; -- a trailing comment
/* block */ ;;
